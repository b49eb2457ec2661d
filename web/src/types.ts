// The object shape the dashboard reads from the API (any kind): kept apart from the DOM code so that pure modules and their Node tests can use it.
export interface KubeObject {
  apiVersion: string
  kind: string
  metadata: { name: string; namespace?: string; resourceVersion?: string; uid?: string; labels?: Record<string, string>; creationTimestamp?: string }
  spec?: any
  status?: any
}
