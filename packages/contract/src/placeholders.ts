/**
 * `${name}` placeholders in `execution.command_args` and `execution.container_env` values let a
 * profile pass launch values to its process without app-specific code: `--model=${model}` becomes
 * `--model=Qwen/Qwen2.5-7B-Instruct`. `$${` writes a literal `${`. Names are parameter names
 * (including the resource parameters `gpu_count`, `cpu_cores`, `memory_gib`).
 */
const PLACEHOLDER = /\$\$\{|\$\{([^}]*)\}/g;
const NAME = /^[a-z][a-z0-9_]{0,62}$/;

/** The placeholder names a text refers to, in order, and any malformed ones. */
export function findPlaceholders(text: string): { names: string[]; malformed: string[] } {
  const names: string[] = [];
  const malformed: string[] = [];
  for (const match of text.matchAll(PLACEHOLDER)) {
    const name = match[1];
    if (name === undefined) continue;
    if (NAME.test(name)) names.push(name);
    else malformed.push(name);
  }
  return { names, malformed };
}

/**
 * Replaces every placeholder with its value (numbers and booleans as text). A name without a value
 * becomes the empty string; validation makes sure that only declared parameters are named.
 */
export function expandPlaceholders(
  text: string,
  values: Readonly<Record<string, unknown>>,
): string {
  return text.replace(PLACEHOLDER, (whole, name: string | undefined) => {
    if (name === undefined) return "${";
    const value = Object.hasOwn(values, name) ? values[name] : undefined;
    if (typeof value === "string") return value;
    if (typeof value === "number" || typeof value === "boolean") return String(value);
    return whole === "$${" ? "${" : "";
  });
}
