// A Node-API addon that asks RE2 itself whether a pattern compiles and how
// large its program is: the same library and options Envoy's safe_regex uses
// (source/common/common/regex.cc: RE2 with logging off, the default 8 MiB
// max_mem), so Trellis refuses exactly what Envoy would NACK.
//
// check(pattern: string) -> { ok: true, programSize: number }
//                         | { ok: false, error: string }   (RE2's own text)
//
// Built by scripts/build-re2-check.sh; loaded by src/model/re2.ts, which
// checks ABI_VERSION so a stale build is an operator error, not a crash.
#include <node_api.h>
#include <re2/re2.h>

#include <string>

namespace {

constexpr int32_t ABI_VERSION = 1;

napi_value Throw(napi_env env, const char* message) {
  napi_throw_type_error(env, nullptr, message);
  return nullptr;
}

napi_value Check(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < 1) {
    return Throw(env, "check(pattern): pattern is required");
  }
  napi_valuetype type;
  napi_typeof(env, argv[0], &type);
  if (type != napi_string) return Throw(env, "check(pattern): pattern must be a string");

  // Two calls: the first measures, the second copies (patterns may hold NUL).
  size_t length = 0;
  napi_get_value_string_utf8(env, argv[0], nullptr, 0, &length);
  std::string pattern(length + 1, '\0');
  napi_get_value_string_utf8(env, argv[0], pattern.data(), pattern.size(), &length);
  pattern.resize(length);

  RE2::Options options;
  options.set_log_errors(false);
  RE2 re(pattern, options);

  napi_value result, ok;
  napi_create_object(env, &result);
  napi_get_boolean(env, re.ok(), &ok);
  napi_set_named_property(env, result, "ok", ok);
  if (re.ok()) {
    napi_value size;
    napi_create_int32(env, re.ProgramSize(), &size);
    napi_set_named_property(env, result, "programSize", size);
  } else {
    napi_value error;
    napi_create_string_utf8(env, re.error().data(), re.error().size(), &error);
    napi_set_named_property(env, result, "error", error);
  }
  return result;
}

napi_value Init(napi_env env, napi_value exports) {
  napi_value check, abi;
  napi_create_function(env, "check", NAPI_AUTO_LENGTH, Check, nullptr, &check);
  napi_set_named_property(env, exports, "check", check);
  napi_create_int32(env, ABI_VERSION, &abi);
  napi_set_named_property(env, exports, "abiVersion", abi);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
