import type { IdentityResult, IdentityVerifier } from './verifier.ts';

type Failure = Extract<IdentityResult, { ok: false }>;

/**
 * Either proves the identity: each verifier whose credential is present is
 * asked in order and the first success wins. When none succeeds the answer
 * is the first failure that is not `missing` (a presented but bad credential
 * says more than an absent one), else `missing`.
 */
export class AnyOfVerifiers implements IdentityVerifier {
  private readonly verifiers: readonly IdentityVerifier[];
  constructor(...verifiers: IdentityVerifier[]) {
    this.verifiers = verifiers;
  }

  async verify(metadata: Readonly<Record<string, string>>, nodeId: string): Promise<IdentityResult> {
    const failures: Failure[] = [];
    for (const v of this.verifiers) {
      const r = await v.verify(metadata, nodeId);
      if (r.ok) return r;
      failures.push(r);
    }
    const told = failures.find((f) => f.reason !== 'missing');
    return told ?? ({ ok: false, reason: 'missing', message: failures.map((f) => f.message).join('; ') || 'no credential in the stream\'s metadata' });
  }
}
