/** Most entries a Python package list may hold. */
export const MAX_PYTHON_PACKAGES = 64;

const NAME = "[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?";
const VERSION_CLAUSE = "(?:===|==|!=|<=|>=|~=|<|>)[A-Za-z0-9_.*+!-]+";
const REQUIREMENT = new RegExp(
  `^${NAME}(?:\\[${NAME}(?:,${NAME})*\\])?(?:${VERSION_CLAUSE}(?:,${VERSION_CLAUSE})*)?$`,
);

/** Why one token of a package list was refused. */
export interface PackageProblem {
  readonly index: number;
  readonly token: string;
  readonly reason: string;
}

/** The result of reading a package list: the accepted specifiers, or every problem. */
export interface PackageList {
  readonly packages: readonly string[];
  readonly problems: readonly PackageProblem[];
}

function explain(token: string): string | undefined {
  if (token.startsWith("-"))
    return "pip options such as --index-url are not allowed; the platform sets the index";
  if (token.includes("://") || /^(?:git|hg|svn|bzr)\+/.test(token))
    return "URLs are not allowed; name a package from the index";
  if (token.includes("@")) return "direct references (name @ url) are not allowed";
  if (
    token.includes("/") ||
    token.includes("\\") ||
    token.startsWith(".") ||
    token.startsWith("~")
  ) {
    return "file paths are not allowed; name a package from the index";
  }
  if (token.includes(";")) return "environment markers are not allowed";
  if (!REQUIREMENT.test(token)) {
    return "not a pip requirement specifier (name, optional [extras], optional version clauses such as ==1.2 or >=2,<3, no spaces)";
  }
  return undefined;
}

/**
 * Splits a whitespace-separated package list and checks that each entry is a single-token pip
 * requirement specifier: a name, optional extras and optional version clauses. URLs, paths,
 * direct references, markers and pip options are refused.
 *
 * @example
 * parsePythonPackages("numpy==2.4.4 pandas>=2.2").packages // ["numpy==2.4.4", "pandas>=2.2"]
 */
export function parsePythonPackages(value: string): PackageList {
  const tokens = value.split(/\s+/).filter((token) => token.length > 0);
  const problems: PackageProblem[] = [];
  tokens.forEach((token, index) => {
    const reason = explain(token);
    if (reason !== undefined) problems.push({ index, token, reason });
  });
  return { packages: problems.length === 0 ? tokens : [], problems };
}
