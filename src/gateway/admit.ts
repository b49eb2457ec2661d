// Admission of one request: reserve on the shared counters, or, while they are unavailable, as the outage policy says (fail-closed 503, or this replica's share of each limit on local counters).
import { isGpuplaneError } from '../common/errors.ts'
import { decideAdmission, type AdmissionDecision, type AdmissionPlan } from '../governance/admission.ts'
import { degradedAdmission } from '../governance/outage.ts'
import type { Rejection } from '../governance/rejection.ts'
import { recordRefusal, type GatewayRuntime, type RequestInfo, type ReservationSite } from './settlement.ts'

export type Admitted = Extract<AdmissionDecision, { admitted: true }> & { site: ReservationSite }

/**
 * The admitted decision and where it was reserved; or undefined after refusing: a 429 was sent
 * through `send429`, or GpuplaneError UNAVAILABLE (503) is thrown for a fail-closed limit. Every
 * refusal is recorded in the ledger with its reason; an admitted request is counted in flight
 * until settle() (settlement.ts).
 */
export async function admit(rt: GatewayRuntime, plan: AdmissionPlan, info: RequestInfo, send429: (r: Rejection) => void): Promise<Admitted | undefined> {
  if (rt.guard.state === 'up' || plan.items.length === 0) {
    const epoch = rt.guard.epoch
    try {
      const decision = decideAdmission(plan, await rt.counters.reserve(plan.items, plan.options), info.time)
      return settled(rt, decision, info, send429, { local: false, epoch })
    } catch (e) {
      if (!(isGpuplaneError(e) && e.code === 'UNAVAILABLE')) throw e
      rt.guard.failed(e)
    }
  }
  return admitDegraded(rt, plan, info, send429)
}

async function admitDegraded(rt: GatewayRuntime, plan: AdmissionPlan, info: RequestInfo, send429: (r: Rejection) => void): Promise<Admitted | undefined> {
  const epoch = rt.guard.epoch
  const degraded = degradedAdmission(plan, rt.outage, rt.replicas)
  if (degraded.action === 'refuse') {
    rt.metrics.degradedRequests.inc({ decision: 'fail-closed' })
    recordRefusal(rt, info, degraded.error.httpStatus, `counters unavailable: ${degraded.classes.join(', ')} limits fail closed`)
    throw degraded.error
  }
  const decision = decideAdmission(degraded.plan, await rt.guard.local.reserve(degraded.plan.items, degraded.plan.options), info.time)
  rt.metrics.degradedRequests.inc({ decision: decision.admitted ? 'local-admitted' : 'local-refused' })
  return settled(rt, decision, info, send429, { local: true, epoch })
}

function settled(rt: GatewayRuntime, decision: AdmissionDecision, info: RequestInfo, send429: (r: Rejection) => void, site: ReservationSite): Admitted | undefined {
  if (!decision.admitted) {
    const c = decision.rejection.counter
    recordRefusal(rt, info, 429, `${c.class} per ${c.window}: ${c.key}${c.localShareOf !== undefined ? ` (local share 1/${c.localShareOf})` : ''}`)
    send429(decision.rejection)
    return undefined
  }
  rt.inflight.begin()
  // The site is added to the decision in place: a spread copy of it costs more per request.
  const admitted = decision as Admitted
  admitted.site = site
  return admitted
}
