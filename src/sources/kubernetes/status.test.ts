import { describe, expect, it } from 'vitest';
import type { ObjectStatus } from '../../model/index.ts';
import { intentStatus, programmedCondition, sameStatus, type ProgrammedSummary } from './status.ts';

const accepted: ObjectStatus = {
  apiVersion: 'split.smi-spec.io/v1alpha4', kind: 'TrafficSplit', namespace: 'shop', name: 'reviews', generation: 2, problems: [],
  conditions: [
    { type: 'Accepted', status: 'True', reason: 'Accepted', message: 'accepted' },
    { type: 'ResolvedRefs', status: 'True', reason: 'ResolvedRefs', message: 'all references resolved' },
  ],
};
const rejected: ObjectStatus = {
  ...accepted,
  conditions: [
    { type: 'Accepted', status: 'False', reason: 'RefNotFound', message: 'spec.backends[1].service: no service "v3"' },
    { type: 'ResolvedRefs', status: 'False', reason: 'RefNotFound', message: 'spec.backends[1].service: no service "v3"' },
  ],
};
const p = (proxies: number, programmed: number, rejected: ProgrammedSummary['rejected'] = []): ProgrammedSummary => ({ proxies, programmed, rejected });

describe('programmedCondition', () => {
  it.each([
    ['all proxies hold it', accepted, p(3, 3), 'True', 'Programmed', 'programmed on 3 of 3 proxies'],
    ['no proxies', accepted, p(0, 0), 'Unknown', 'NoProxies', 'no proxies are connected'],
    ['some not yet ACKed', accepted, p(3, 2), 'False', 'Pending', 'programmed on 2 of 3 proxies; the others have not acknowledged it yet'],
    ['a NACK', accepted, p(2, 1, [{ node: 'a', type: 'cds', message: 'bad' }]), 'False', 'Rejected', 'programmed on 1 of 2 proxies; a rejected cds: bad'],
    ['not accepted, nothing served', rejected, p(2, 2), 'False', 'NotAccepted', 'not programmed: this object is not accepted (see Accepted)'],
    ['not accepted, last good served', { ...rejected, servedGeneration: 1 }, p(2, 2), 'True', 'Programmed', 'programmed on 2 of 2 proxies (generation 1, the last accepted one)'],
  ] as const)('%s', (_n, s, summary, status, reason, message) => {
    expect(programmedCondition(s, summary)).toEqual({ type: 'Programmed', status, reason, message });
  });
});

describe('intentStatus', () => {
  it('carries observedGeneration; lastTransitionTime moves only when a status changes', () => {
    const first = intentStatus(accepted, p(1, 0), undefined, 't1');
    expect(first.observedGeneration).toBe(2);
    expect(first.conditions.map((c) => [c.type, c.status, c.observedGeneration, c.lastTransitionTime])).toEqual([
      ['Accepted', 'True', 2, 't1'], ['ResolvedRefs', 'True', 2, 't1'], ['Programmed', 'False', 2, 't1'],
    ]);
    const second = intentStatus(accepted, p(1, 1), first.conditions, 't2');
    expect(second.conditions.map((c) => c.lastTransitionTime)).toEqual(['t1', 't1', 't2']);
    expect(sameStatus(first, second)).toBe(false);
    expect(sameStatus(second, intentStatus(accepted, p(1, 1), second.conditions, 't3'))).toBe(true);
  });
});
