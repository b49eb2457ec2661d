// The dashboard app: login with a token, hash routes to the five views, keyboard-reachable navigation.
import { api, ApiError, getToken, GPUPLANE, setToken, setUnauthorizedHandler } from './api.ts'
import { h, notice, replace } from './dom.ts'
import { releaseAll } from './live.ts'
import type { View } from './view.ts'
import { clusterView } from './views/cluster.ts'
import { governanceView } from './views/governance.ts'
import { simulationsView } from './views/simulations.ts'
import { utilizationView } from './views/utilization.ts'
import { workloadsView } from './views/workloads.ts'

const ROUTES: Array<{ path: string; title: string; view: View }> = [
  { path: 'cluster', title: 'Cluster', view: clusterView },
  { path: 'workloads', title: 'Workloads', view: workloadsView },
  { path: 'utilization', title: 'Utilization', view: utilizationView },
  { path: 'governance', title: 'Governance', view: governanceView },
  { path: 'simulations', title: 'Simulations', view: simulationsView },
]

const main = document.getElementById('main') as HTMLElement
const nav = document.getElementById('nav') as HTMLElement
const who = document.getElementById('who') as HTMLElement
let current: AbortController | undefined
let admin = false

function routeOf(): { path: string; rest: string[] } {
  const [path, ...rest] = location.hash.replace(/^#\/?/, '').split('/')
  return { path: path || 'cluster', rest }
}

function drawNav(active: string | undefined): void {
  replace(nav, h('ul', {}, ...ROUTES.map((r) => h('li', {}, h('a', { href: `#/${r.path}`, ...(r.path === active ? { 'aria-current': 'page' } : {}) }, r.title)))))
}

function showLogin(message?: string): void {
  current?.abort()
  releaseAll()
  drawNav(undefined)
  replace(who)
  const input = h('input', { id: 'token', name: 'token', type: 'password', autocomplete: 'current-password', required: true, 'aria-describedby': 'token-help', size: 48 })
  const form = h(
    'form',
    { class: 'login', 'aria-labelledby': 'login-h' },
    h('h1', { id: 'login-h' }, 'Sign in to gpuplane'),
    message ? notice('error', message) : null,
    h('label', { for: 'token' }, 'API token'),
    input,
    h('p', { id: 'token-help', class: 'muted' }, 'The admin token (GPUPLANE_ADMIN_TOKEN, or the one the server printed at its first start) or a namespace token from "gpuplane token create". It is kept in this tab only (sessionStorage).'),
    h('button', { type: 'submit' }, 'Sign in'),
  )
  form.addEventListener('submit', (e) => {
    e.preventDefault()
    void login(input.value.trim())
  })
  replace(main, form)
  input.focus()
}

async function login(token: string): Promise<void> {
  setToken(token)
  try {
    await api(`${GPUPLANE}/namespaces`)
  } catch (e) {
    setToken(null)
    if (e instanceof ApiError && e.status === 401) return showLogin(`The server refused this token: ${e.message}`)
    return showLogin(`The server could not be reached or failed: ${(e as Error).message}`)
  }
  await start()
}

/** Whether the signed-in token is the admin's (GET .../whoami answers any valid token). */
async function probeAdmin(): Promise<boolean> {
  try {
    return (await api<{ admin: boolean }>(`${GPUPLANE}/whoami`)).admin === true
  } catch {
    return false
  }
}

async function start(): Promise<void> {
  admin = await probeAdmin()
  if (!getToken()) return
  const logout = h('button', { type: 'button', class: 'link' }, 'Sign out')
  logout.addEventListener('click', () => {
    setToken(null)
    showLogin()
  })
  replace(who, admin ? 'admin' : 'namespace token', ' · ', logout)
  render()
}

function render(): void {
  if (!getToken()) return showLogin()
  const { path } = routeOf()
  const route = ROUTES.find((r) => r.path === path)
  drawNav(route?.path)
  current?.abort()
  current = new AbortController()
  if (!route) {
    replace(main, h('h1', {}, 'Not found'), notice('info', `There is no view "${path}"; pick one above.`))
    return
  }
  document.title = `${route.title} · gpuplane`
  replace(main)
  const ctx = { root: main, signal: current.signal, admin }
  Promise.resolve(route.view(ctx)).catch((e: unknown) => {
    if (ctx.signal.aborted) return
    main.append(notice('error', `This view failed: ${(e as Error).message}`))
  })
}

setUnauthorizedHandler((message) => {
  setToken(null)
  showLogin(`The server refused the token (401): ${message}`)
})
// The skip link's "#main" would be taken for a route: move the focus to the view instead.
document.querySelector('a.skip')?.addEventListener('click', (e) => {
  e.preventDefault()
  main.focus()
})
window.addEventListener('hashchange', () => {
  render()
  main.focus({ preventScroll: true })
})
if (getToken()) void start()
else showLogin()
