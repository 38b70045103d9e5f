/**
 * Issue 16 bug 6, gRPC side: the regexes Trellis accepts behave in proxyless
 * grpc-js clients as in Envoy. grpc-js (re2-wasm) compiles `^${regex}$`, so
 * an operator's top-level alternation is sent inside a non-capturing group.
 */
import { describe, expect, it } from 'vitest';
import { PathSafeRegexValueMatcher, SafeRegexValueMatcher } from '@grpc/grpc-js-xds/build/src/matcher.js';
import { re2Check } from '../model/re2.ts';
import { regexProblem } from '../model/regex.ts';
import { AT_LIMIT } from '../model/testing.ts';
import type { HttpMatch } from '../model/types.ts';
import { rbacPermission, routeMatch, wholeValueRegex } from './match.ts';

const match = (pathRegex: string, header: string): HttpMatch => ({ group: 'demo/g', name: 'm', pathRegex, methods: [], headers: [{ name: 'x-v', valueRegex: header }] });

describe('issue 16 bug 6: proxyless grpc-js clients match a regex on the whole value, as Envoy does', () => {
  it('a top-level alternation in pathRegex and a header value', () => {
    const m = routeMatch(match('/a|/b', 'v1|v2'));
    const path = new PathSafeRegexValueMatcher(m.safe_regex!.regex!);
    expect(['/a', '/b', '/a/zzz', '/zzz/b'].map((p) => path.apply(p))).toEqual([true, true, false, false]);
    const header = new SafeRegexValueMatcher(m.headers![0]!.string_match!.safe_regex!.regex!);
    expect(['v1', 'v2', 'v1x', 'xv2'].map((v) => header.apply(v))).toEqual([true, true, false, false]);
    expect(JSON.stringify(rbacPermission(match('/a|/b', 'v1|v2')))).toContain('"(?:/a|/b)"');
  });

  it.each(['/api/.*', '(?i)abc', '(?P<n>x)', '(?<n>x)', '/a|/b', 'a|(?i)b', String.raw`\Qa|b`, String.raw`\Q.*\E|x`, AT_LIMIT])(
    '%s: accepted, compiles in grpc-js as sent, and the sent form has the same RE2 program',
    (pattern) => {
      expect(regexProblem(pattern)).toBeUndefined();
      const sent = wholeValueRegex(pattern);
      expect(() => new SafeRegexValueMatcher(sent)).not.toThrow();
      expect(re2Check(sent)).toEqual(re2Check(pattern));
    },
  );

  it('a Unicode 15 script grpc-js does not know is refused, as grpc-js would refuse the route', () => {
    expect(() => new SafeRegexValueMatcher(String.raw`\p{Kawi}`)).toThrow();
    expect(regexProblem(String.raw`\p{Kawi}`)).toContain('grpc-js');
  });
});
