using Cocoon.Network.Providers;

namespace Cocoon.Network.Access;

/// <summary>
/// What a provider's pause, resume and revocation do to its joined workers, at once: their Redis users go off (with
/// their connections closed), on again, or away. The bot's /provider commands call it.
/// </summary>
public sealed class ProviderWorkerControl(ProviderDirectory providers, WorkerJoins joins, WorkerAccess access)
{
    /// <summary>Pauses or resumes every joined worker of a provider: their Redis users go off (connections closed) or on.</summary>
    public async Task SetPausedAsync(string providerId, bool paused, CancellationToken cancellationToken)
    {
        foreach (var record in await joins.ListByProviderAsync(providerId, cancellationToken).ConfigureAwait(false))
        {
            if (!record.Pinned || record.State == JoinStates.Revoked)
            {
                continue;
            }

            if (paused)
            {
                await access.DisableAsync(record.WorkerId, cancellationToken).ConfigureAwait(false);
                await joins.SetStateAsync(record.WorkerId, JoinStates.Paused, JoinRefusals.Paused, $"provider {providerId} is paused", cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await access.EnableAsync(record.WorkerId, cancellationToken).ConfigureAwait(false);
                await joins.SetStateAsync(record.WorkerId, JoinStates.Joined, null, null, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Revokes the provider's token: a new one is issued, and every joined worker's Redis user is deleted at once.</summary>
    public async Task<string?> RevokeAsync(string providerId, CancellationToken cancellationToken)
    {
        var token = await providers.RotateTokenAsync(providerId, cancellationToken).ConfigureAwait(false);
        if (token is null)
        {
            return null;
        }

        foreach (var record in await joins.ListByProviderAsync(providerId, cancellationToken).ConfigureAwait(false))
        {
            await access.DeleteAsync(record.WorkerId, cancellationToken).ConfigureAwait(false);
            await joins.SetStateAsync(record.WorkerId, JoinStates.Revoked, JoinRefusals.TokenRevoked, "the token this worker joined with was revoked", cancellationToken).ConfigureAwait(false);
        }

        return token;
    }
}
