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

    /// <summary>
    /// Registers or replaces the provider's key. Every joined worker not certified by the new key (signed by the old
    /// one, or by none) loses its Redis user at once: its next heartbeat fails and it hears why from the gateway.
    /// Null when the provider does not exist.
    /// </summary>
    public async Task<ProviderInfo?> SetProviderKeyAsync(string providerId, string publicKeyHex, CancellationToken cancellationToken)
    {
        var provider = await providers.SetProviderKeyAsync(providerId, publicKeyHex, cancellationToken).ConfigureAwait(false);
        if (provider is null)
        {
            return null;
        }

        foreach (var record in await joins.ListByProviderAsync(providerId, cancellationToken).ConfigureAwait(false))
        {
            if (!record.Pinned || record.State is JoinStates.Revoked or JoinStates.Refused || record.CertificateKey == provider.ProviderKey)
            {
                continue;
            }

            var (reason, detail) = record.CertificateKey is null
                ? (JoinRefusals.CertificateMissing, $"worker {record.WorkerId} joined without a certificate; provider {providerId} now requires one")
                : (JoinRefusals.ProviderKeyRevoked, $"worker {record.WorkerId} is certified by provider key {KeyPrefix(record.CertificateKey)}, replaced by {KeyPrefix(provider.ProviderKey!)}");
            await access.DeleteAsync(record.WorkerId, cancellationToken).ConfigureAwait(false);
            await joins.SetStateAsync(record.WorkerId, JoinStates.Revoked, reason, detail, cancellationToken).ConfigureAwait(false);
        }

        return provider;
    }

    /// <summary>The first 16 hex digits of a key, as /provider status shows it.</summary>
    public static string KeyPrefix(string key) => key.Length > 16 ? key[..16] + "…" : key;
}
