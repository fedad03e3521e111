/** The project's instances with live state badges (polled, no reload needed). */
import { callApiList, seg } from "./api-client.js";
import type { Instance } from "./api-types.js";
import { formatRelative, shortDigest, shortId } from "./format.js";
import { Link } from "./router.js";
import { useSession } from "./session.js";
import { EmptyState, ErrorNotice, Loading, PageHeader, StateBadge } from "./ui.js";
import { useResource } from "./use-resource.js";

const POLL_MS = 3000;

/** `/instances` */
export function InstancesPage() {
  const session = useSession();
  const projectId = session.project?.id as string;
  const list = useResource(
    projectId,
    (signal) => callApiList<Instance>(`/projects/${seg(projectId)}/app-instances`, signal),
    POLL_MS,
  );
  const instances = [...(list.data ?? [])].sort((a, b) =>
    a.created_at < b.created_at ? 1 : a.created_at > b.created_at ? -1 : 0,
  );
  return (
    <>
      <PageHeader
        title="Instances"
        lead={
          <>
            Apps launched in <strong>{session.project?.display_name}</strong>. States update on
            their own.
          </>
        }
        actions={
          <Link href="/catalog" className="button button-primary">
            Launch an app
          </Link>
        }
      />
      {list.error !== undefined && <ErrorNotice error={list.error} />}
      {list.data === undefined && list.error === undefined && <Loading />}
      {list.data !== undefined && instances.length === 0 && (
        <EmptyState
          title="No instances yet"
          action={
            <Link href="/catalog" className="button button-primary">
              Open the catalog
            </Link>
          }
        >
          Launch an app from the catalog; it appears here with its state.
        </EmptyState>
      )}
      {instances.length > 0 && (
        <div className="card table-card">
          <table className="table table-rows" aria-label="Instances">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">App</th>
                <th scope="col">State</th>
                <th scope="col">Desired</th>
                <th scope="col">Image</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {instances.map((instance) => (
                <tr key={instance.id} data-instance={instance.id}>
                  <td>
                    <Link href={`/instances/${encodeURIComponent(instance.id)}`} className="strong">
                      {instance.display_name}
                    </Link>
                    <div className="muted small">
                      <code>{shortId(instance.id)}</code>
                    </div>
                  </td>
                  <td>
                    {instance.app_slug}
                    <div className="muted small">{instance.app_version}</div>
                  </td>
                  <td>
                    <StateBadge state={instance.state} />
                  </td>
                  <td className="muted">{instance.desired_state}</td>
                  <td>
                    <code title={instance.resolved_digest}>
                      {shortDigest(instance.resolved_digest)}
                    </code>
                  </td>
                  <td className="muted" title={instance.created_at}>
                    {formatRelative(instance.created_at)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
