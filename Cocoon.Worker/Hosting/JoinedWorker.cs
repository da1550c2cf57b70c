using Cocoon.Engine.Attestation;
using Cocoon.Network.Access;

namespace Cocoon.Worker.Hosting;

/// <summary>
/// A worker that joined through the gateway: the keys it joined with (pinned by the gateway), what the gateway granted,
/// and what to do when its Redis access fails (ask the gateway why, and stop when the answer is final).
/// </summary>
public sealed class JoinedWorker(WorkerIdentity identity, JoinGrant grant, Func<CancellationToken, Task> accessFailed)
{
    public WorkerIdentity Identity { get; } = identity;

    public JoinGrant Grant { get; } = grant;

    public Task AccessFailedAsync(CancellationToken cancellationToken) => accessFailed(cancellationToken);
}
