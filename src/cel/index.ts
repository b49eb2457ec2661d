// Public API of the DRA CEL environment: compile selectors once, evaluate them on device views.
export { compileSelector, clearSelectorCache, CompiledSelector, SELECTOR_CACHE_LIMIT, type CompileOptions } from './compile.ts'
export { celDeviceView, CelDeviceView, splitQualifiedName, type DeviceInput, type DeviceFields, type CelAttributeValue } from './device-view.ts'
export { CEL_SELECTOR_EXPRESSION_MAX_COST } from './runtime-cost.ts'
export { INCLUDES_MAX_LIST_LENGTH } from './lib-ext.ts'
export { selectorCheck } from './object-check.ts'
