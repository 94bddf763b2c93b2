// Placeholder: the compiled router lands with the data plane.
export interface CompiledRoute {
  id: string;
  label: string;
}
