// The Cluster view's vGPUs end to end: a real `gpuplane server --demo` and Debian's Chromium driven by playwright-core; hypervisors with the physical GPUs behind VMs' vGPUs, free and held vGPU profiles, namespace colours, physical GPU counts, readable labels, no console errors. Saves test/screenshots/16-cluster-vgpu.png.
//
// Needs /usr/bin/chromium, like test/dashboard.test.ts; both start the server and the browser
// with test/dashboard-server.ts (which builds the dashboard into dist/web first).
import assert from 'node:assert/strict'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { Locator, Page } from 'playwright-core'
import { GP, oneGpuWorkload, SHOTS, startDashboardServer, type DashboardServer } from './dashboard-server.ts'

const TOKEN = 'dashboard-cluster-test-admin-token'

// What the functions run in the page use of the browser's globals (the tests compile without the DOM library).
// Functions given to evaluate run in the page: they may use no variable of this module.
declare const getComputedStyle: (el: unknown) => { backgroundColor: string; backgroundImage: string; fontSize: string }
declare const window: { scrollBy(x: number, y: number): void }

describe('cluster view: vGPUs, hypervisors and namespace colours in Chromium against gpuplane server --demo', { timeout: 180_000 }, () => {
  let fx: DashboardServer
  let page: Page
  let consoleErrors: string[]
  /** Where the vGPU workload this file creates landed: a VM and the hypervisor it runs on. */
  let vdiVm = ''
  let vdiHost = ''
  const call = (method: string, path: string, body?: unknown) => fx.call(method, path, body)
  const waitFor = <T,>(what: string, f: () => Promise<T | undefined>, timeoutMs = 20_000) => fx.waitFor(what, f, timeoutMs)

  const scheduledNode = (namespace: string, name: string) => async () => {
    const { body } = await call('GET', `${GP}/namespaces/${namespace}/workloads/${name}`)
    return (body.status?.nodeName as string | undefined) || undefined
  }

  /** The computed background colour of an element (rgb(...)). */
  const background = (l: Locator) => l.evaluate((el) => getComputedStyle(el).backgroundColor)
  const legendColour = (namespace: string) => background(page.locator(`.legend .chip[data-namespace="${namespace}"] .swatch`))

  before(async () => {
    await mkdir(SHOTS, { recursive: true })
    fx = await startDashboardServer({ token: TOKEN, prefix: 'gp-dash-cluster-' })
    ;({ page, consoleErrors } = fx)
    // The demo's batch renders take L40S-12C vGPUs of the worker host l40s-vgpu.
    await waitFor('the demo vGPU workloads to be scheduled', scheduledNode('batch', 'render-0'))
    // A vGPU of a virtual machine: an L40S-24C, which only VMs on the hypervisors have.
    const created = await call('POST', `${GP}/namespaces/inference/workloads`, oneGpuWorkload('vdi', 'NVIDIA L40S-24C'))
    assert.equal(created.status, 201, `the workload is created: ${JSON.stringify(created.body)}`)
    vdiVm = await waitFor('the vGPU workload to be scheduled', scheduledNode('inference', 'vdi'))
    const { body: node } = await call('GET', `/api/v1/nodes/${vdiVm}`)
    vdiHost = node.metadata?.labels?.['gpuplane.io/host']
    assert.match(vdiHost ?? '', /^hv-l40s-/, `the 24C lands on a VM of an L40S hypervisor (${vdiVm} on ${vdiHost})`)

    await page.goto(fx.base + '/')
    await page.fill('#token', TOKEN)
    await page.click('form.login button[type=submit]')
    await page.locator('h1', { hasText: 'Cluster' }).waitFor()
    await page.goto(fx.base + '/#/cluster')
    // Nodes, slices, claims and the Cluster spec arrive separately: wait for the frame that has them all.
    await page.locator(`[data-node="${vdiHost}"] .part.vgpu.held[data-exposed-on="${vdiVm}"]`).waitFor()
    await page.locator('[data-gpu="l40s-vgpu/gpu-0"] .part.vgpu.held').first().waitFor()
  })

  after(async () => {
    await fx?.stop()
  })

  test("a hypervisor's physical GPUs carry the vGPUs of every VM on them; free ones are drawn free", async () => {
    const hv = page.locator('[data-node="hv-l40s-equal"]')
    assert.equal(await hv.getAttribute('data-kind'), 'hypervisor')
    assert.match(await hv.locator('h3').innerText(), /hypervisor, not a Kubernetes node/, 'the card says it is no node')
    // GPU 0: 2 × L40S-12C for each of two VMs, each a quarter of the framebuffer.
    const blocks = page.locator('[data-gpu="hv-l40s-equal/gpu-0"] .part.vgpu')
    assert.equal(await blocks.count(), 4, 'four vGPUs on GPU 0')
    const drawn = await blocks.evaluateAll((els) => els.map((el) => ({ on: el.getAttribute('data-exposed-on'), width: (el as unknown as { style: { width: string } }).style.width, cls: el.className, image: getComputedStyle(el).backgroundImage, text: el.textContent })))
    assert.deepEqual(drawn.map((d) => d.on), ['vm-l40s-12c-a', 'vm-l40s-12c-a', 'vm-l40s-12c-b', 'vm-l40s-12c-b'], 'each block names the VM it is exposed on')
    for (const d of drawn) {
      assert.equal(d.width, '25%', 'a 12C is a quarter of a 48 GiB L40S')
      assert.match(d.cls, /\bfree\b/, 'no claim holds them: drawn free')
      assert.match(d.image, /repeating-linear-gradient/, 'free is hatched, as in the legend')
      assert.match(d.text ?? '', /L40S-12C/, 'the full profile name is in the block (visible or for the tooltip and screen readers)')
    }
    // A VM lists its vGPUs as references to that GPU, not as GPUs of its own.
    const vm = page.locator('[data-node="vm-l40s-12c-a"]')
    assert.match(await vm.locator('h3').innerText(), /virtual machine on hv-l40s-equal/)
    assert.equal(await vm.locator('.gpu.vgpu-ref').count(), 2, 'two vGPU references')
    assert.match((await vm.locator('.gpu.vgpu-ref').first().getAttribute('aria-label')) ?? '', /vGPU L40S-12C of hv-l40s-equal gpu-0/)
    // Passthrough: the A100 hypervisor says where its GPUs went and draws the one left.
    assert.match(await page.locator('[data-node="hv-a100"] [data-passthrough="vm-a100-pair"]').innerText(), /gpu-0, gpu-1 passed through to vm-a100-pair/)
    await page.locator('[data-gpu="hv-a100/gpu-3"]').waitFor()
  })

  test('a held vGPU is coloured by its namespace, as the legend; focus shows its device and holder', async () => {
    // On the hypervisor: the 24C of the VM the new workload runs in.
    const held = page.locator(`[data-node="${vdiHost}"] .part.vgpu.held[data-exposed-on="${vdiVm}"]`)
    assert.equal(await held.count(), 1, 'one held vGPU on the hypervisor')
    assert.equal(await background(held), await legendColour('inference'), "the block has the inference namespace's legend colour")
    await page.mouse.move(1, 1)
    await held.focus()
    const details = page.locator('aside.details')
    await details.filter({ hasText: 'inference/vdi' }).waitFor()
    const text = await details.innerText()
    assert.match(text, /L40S-24C/, 'the profile')
    assert.match(text, new RegExp(`Exposed on\\s+${vdiVm}`), 'the VM that exposes it')
    assert.match(text, /NVIDIA L40S-24C/, "the VM device's own attributes")
    // On the worker vGPU host: the batch renders' 12Cs.
    const renders = page.locator('[data-gpu="l40s-vgpu/gpu-0"] .part.vgpu.held')
    // The setup waited for one held render only; the other renders' claims may come later on the claims stream.
    await renders.nth(3).waitFor()
    assert.equal(await renders.count(), 4, 'four held 12Cs on l40s-vgpu gpu-0')
    const batch = await legendColour('batch')
    for (const c of await renders.evaluateAll((els) => els.map((el) => getComputedStyle(el).backgroundColor))) assert.equal(c, batch, "held by batch: the batch namespace's colour")
    assert.notEqual(batch, await legendColour('inference'), 'two namespaces, two colours')
    await renders.first().focus()
    await details.filter({ hasText: 'batch/render' }).waitFor()
    const own = await details.innerText()
    assert.match(own, /profile\s+L40S-12C/, "the vGPU device's attributes")
    assert.match(own, /parentUUID/, 'including its parent GPU')
    // The GPU itself lists its own attributes, not those of one of its vGPU devices.
    await page.locator('[data-gpu="l40s-vgpu/gpu-1"]').focus()
    await details.filter({ hasText: 'l40s-vgpu · gpu-1' }).waitFor()
    const gpuText = await details.innerText()
    assert.match(gpuText, /uuid\s+GPU-/, "the physical GPU's UUID")
    assert.doesNotMatch(gpuText, /profile\s+L40S-48C|parentUUID/, 'no vGPU device attributes on the GPU')
    // A GPU of the worker host that no vGPU uses is free as a whole, offering every profile.
    const free = page.locator('[data-gpu="l40s-vgpu/gpu-1"] .part.capacity.free')
    assert.equal(await free.evaluate((el) => (el as unknown as { style: { width: string } }).style.width), '100%')
    await free.focus()
    await details.filter({ hasText: 'L40S-48C × 1' }).waitFor()
  })

  test('GPU counts per model are physical GPUs: those the Cluster spec declares, vGPUs apart', async () => {
    const { body } = await call('GET', `${GP}/clusters`)
    const declared = new Map<string, number>()
    for (const c of body.items) for (const h of c.spec.hosts) declared.set(h.gpus.model, (declared.get(h.gpus.model) ?? 0) + h.gpus.count * (h.replicas ?? 1))
    const sections = await page.locator('section.model-group').evaluateAll((els) => els.map((el) => ({ model: el.getAttribute('data-model'), gpus: Number(el.getAttribute('data-gpus')), heading: el.querySelector('h2')?.textContent ?? '' })))
    assert.deepEqual(sections.map((s) => s.model).sort(), [...declared.keys()].sort(), 'one group per GPU model')
    for (const s of sections) {
      assert.equal(s.gpus, declared.get(s.model!), `${s.model}: the physical GPUs of the spec`)
      assert.match(s.heading, new RegExp(`\\b${declared.get(s.model!)} GPUs?\\b`), `${s.model}: the heading says so`)
    }
    const l40s = sections.find((s) => s.model === 'L40S-48GB')!
    assert.match(l40s.heading, /2 hypervisors, 11 GPUs, 8 vGPUs in VMs/, 'L40S: 11 physical GPUs; the 8 vGPUs in VMs are counted apart')
  })

  test('labels are readable at 1280×800: no text under 11 px, block labels fit their blocks', async () => {
    const small = await page.locator('.cluster-body').evaluate((root) => {
      const out: string[] = []
      for (const el of root.querySelectorAll('*')) {
        if (el.closest('.sr-only')) continue
        const own = [...el.childNodes].some((n) => n.nodeType === 3 /* a text node */ && (n.textContent ?? '').trim() !== '')
        if (own && parseFloat(getComputedStyle(el).fontSize) < 11) out.push(`${el.className}: ${el.textContent} (${getComputedStyle(el).fontSize})`)
      }
      return out
    })
    assert.deepEqual(small, [], 'no text smaller than 11 px')
    const labels = await page.locator('.part .part-label').evaluateAll((els) => {
      const shown = els.filter((el) => el.textContent)
      return { shown: shown.length, overflowing: shown.filter((el) => el.getBoundingClientRect().width > el.parentElement!.getBoundingClientRect().width + 0.5).map((el) => `${el.parentElement?.getAttribute('data-key')}: "${el.textContent}"`) }
    })
    assert.ok(labels.shown >= 20, `block labels are shown (${labels.shown})`)
    assert.deepEqual(labels.overflowing, [], 'every visible block label fits its block (narrow ones are abbreviated or left to the tooltip)')
    assert.ok((await page.locator('[data-gpu="hv-l40s-equal/gpu-0"] .part-label', { hasText: '12C' }).count()) === 4, 'a quarter of an L40S shows "12C"')
    // Screenshot: the L40S group with the hypervisors, the held vGPU's details beside it.
    await page.locator('section[data-model="L40S-48GB"]').evaluate((el) => {
      el.scrollIntoView({ block: 'start' })
      window.scrollBy(0, -56) // below the sticky header
    })
    await page.locator(`[data-node="${vdiHost}"] .part.vgpu.held[data-exposed-on="${vdiVm}"]`).hover()
    await page.locator('aside.details', { hasText: 'inference/vdi' }).waitFor()
    await page.screenshot({ path: join(SHOTS, '16-cluster-vgpu.png'), fullPage: false })
  })

  test('no console errors', () => {
    assert.deepEqual(consoleErrors, [], 'the browser logged no errors')
  })
})
