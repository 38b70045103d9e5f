/** The model's public surface: sources' objects in, the mesh model and statuses out. */
export { buildMesh, objectIdOf, type BuildOptions, type BuildResult } from './build.ts';
export { buildMeshKeepingLastGood, type AcceptedInputs } from './last-good.ts';
export { formatProblem, formatSourceError, hasErrors, isAccepted } from './problem.ts';
export type { Condition, ObjectStatus, ParentRef, ParentStatus, Problem, ProblemReason, Severity } from './problem.ts';
export { TRELLIS_CONTROLLER } from './kinds/gateway-common.ts';
export { supportedKinds } from './kinds/registry.ts';
export type * from './types.ts';
export { reachableServices } from './queries.ts';
export type { SourceError, SourceObject } from './object.ts';
