// A Node-API addon that asks RE2 itself whether a pattern compiles and how
// large its program is: the same library and options Envoy's safe_regex uses
// (source/common/common/regex.cc: RE2 with logging off, the default 8 MiB
// max_mem), so Trellis refuses exactly what Envoy would NACK.
//
// check(pattern: string) -> { ok: true, programSize: number }
//                         | { ok: false, error: string }   (RE2's own text)
// fullMatch(pattern: string, text: string)
//                         -> { ok: true, matched: boolean }
//                         | { ok: false, error: string }
//   whether RE2 matches the whole text, as Envoy's safe_regex matchers do
//   (CompiledGoogleReMatcher::match is RE2::FullMatch): `trellis explain`
//   evaluates served routes and RBAC with it.
//
// Built by scripts/build-re2-check.sh; loaded by src/model/re2.ts, which
// checks ABI_VERSION so a stale build is an operator error, not a crash.
#include <node_api.h>
#include <re2/re2.h>

#include <string>

namespace {

constexpr int32_t ABI_VERSION = 2;

napi_value Throw(napi_env env, const char* message) {
  napi_throw_type_error(env, nullptr, message);
  return nullptr;
}

// A JS string argument as UTF-8; false (and a pending exception) when it is not a string.
bool Utf8Arg(napi_env env, napi_value value, std::string* out) {
  napi_valuetype type;
  napi_typeof(env, value, &type);
  if (type != napi_string) return false;
  // Two calls: the first measures, the second copies (strings may hold NUL).
  size_t length = 0;
  napi_get_value_string_utf8(env, value, nullptr, 0, &length);
  out->assign(length + 1, '\0');
  napi_get_value_string_utf8(env, value, out->data(), out->size(), &length);
  out->resize(length);
  return true;
}

// Envoy's options: UTF-8, default max_mem, errors not logged (RE2::Quiet).
RE2::Options EnvoyOptions() {
  RE2::Options options;
  options.set_log_errors(false);
  return options;
}

napi_value ErrorResult(napi_env env, const RE2& re) {
  napi_value result, ok, error;
  napi_create_object(env, &result);
  napi_get_boolean(env, false, &ok);
  napi_set_named_property(env, result, "ok", ok);
  napi_create_string_utf8(env, re.error().data(), re.error().size(), &error);
  napi_set_named_property(env, result, "error", error);
  return result;
}

napi_value FullMatch(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < 2) {
    return Throw(env, "fullMatch(pattern, text): both are required");
  }
  std::string pattern, text;
  if (!Utf8Arg(env, argv[0], &pattern) || !Utf8Arg(env, argv[1], &text)) {
    return Throw(env, "fullMatch(pattern, text): both must be strings");
  }
  RE2 re(pattern, EnvoyOptions());
  if (!re.ok()) return ErrorResult(env, re);
  napi_value result, ok, matched;
  napi_create_object(env, &result);
  napi_get_boolean(env, true, &ok);
  napi_set_named_property(env, result, "ok", ok);
  napi_get_boolean(env, RE2::FullMatch(text, re), &matched);
  napi_set_named_property(env, result, "matched", matched);
  return result;
}

napi_value Check(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < 1) {
    return Throw(env, "check(pattern): pattern is required");
  }
  std::string pattern;
  if (!Utf8Arg(env, argv[0], &pattern)) return Throw(env, "check(pattern): pattern must be a string");

  RE2 re(pattern, EnvoyOptions());

  if (!re.ok()) return ErrorResult(env, re);
  napi_value result, ok, size;
  napi_create_object(env, &result);
  napi_get_boolean(env, true, &ok);
  napi_set_named_property(env, result, "ok", ok);
  napi_create_int32(env, re.ProgramSize(), &size);
  napi_set_named_property(env, result, "programSize", size);
  return result;
}

napi_value Init(napi_env env, napi_value exports) {
  napi_value check, fullMatch, abi;
  napi_create_function(env, "check", NAPI_AUTO_LENGTH, Check, nullptr, &check);
  napi_set_named_property(env, exports, "check", check);
  napi_create_function(env, "fullMatch", NAPI_AUTO_LENGTH, FullMatch, nullptr, &fullMatch);
  napi_set_named_property(env, exports, "fullMatch", fullMatch);
  napi_create_int32(env, ABI_VERSION, &abi);
  napi_set_named_property(env, exports, "abiVersion", abi);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
