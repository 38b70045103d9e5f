/**
 * Protocol detection for undeclared ports (model AppProtocol 'auto': no
 * appProtocol and no protocol-naming port name). Pure builders.
 *
 * Client side: the http_inspector listener filter reads the first bytes the
 * application sends; HTTP/1.x or HTTP/2 with prior knowledge (h2c) picks the
 * HTTP chain (routing, retries, the HTTP features), anything else — the
 * application's own TLS included — the TCP chain (tcp_proxy). Server side,
 * after the sidecar-to-sidecar mTLS: the tls_inspector reads the ALPN the
 * client sidecar offered in its ClientHello, which Envoy's HTTP connection
 * pools set (`http/1.1`, `h2`) and tcp_proxy does not, so the server picks
 * the same kind of chain without looking inside the encryption.
 *
 * Limits (docs/interception.md): the client side must see bytes first, so
 * a server-first protocol (MySQL, SMTP, ...) on an undeclared port waits
 * DETECTION_TIMEOUT before it is carried as TCP; declare such ports `tcp`.
 * The inspectors run only on the ports that need them (`filter_disabled`),
 * so declared ports never wait.
 */
import type { ListenerFilter, ListenerFilterChainMatchPredicate } from '../xds/envoy-types.ts';
import { extension } from '../xds/extensions.ts';

/** What http_inspector reports for HTTP: a chain with these application_protocols takes it. */
export const DETECTED_HTTP = ['http/1.0', 'http/1.1', 'h2c'];

/** The ALPN an Envoy HTTP connection pool offers upstream (HTTP/1.1 or HTTP/2 pools). */
export const SIDECAR_HTTP_ALPN = ['http/1.1', 'h2'];

/**
 * How long a listener waits for the first bytes before it gives up
 * detecting and carries the connection as TCP (Listener
 * listener_filters_timeout, with continue_on_listener_filters_timeout).
 */
export const DETECTION_TIMEOUT = '1s';

/** Disabled on every destination port but these (Envoy's predicate: when it matches, the filter is skipped). */
function onlyOn(ports: readonly number[]): ListenerFilterChainMatchPredicate {
  const rules = [...new Set(ports)].sort((a, b) => a - b).map((p): ListenerFilterChainMatchPredicate => ({ destination_port_range: { start: p, end: p + 1 } }));
  // MatchSet needs two rules or more.
  return { not_match: rules.length === 1 ? rules[0]! : { or_match: { rules } } };
}

export function httpInspector(ports: readonly number[]): ListenerFilter {
  return { ...extension('HttpInspector', {}), filter_disabled: onlyOn(ports) };
}

export function tlsInspector(ports: readonly number[]): ListenerFilter {
  return { ...extension('TlsInspector', {}), filter_disabled: onlyOn(ports) };
}
