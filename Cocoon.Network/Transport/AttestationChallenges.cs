using System.Globalization;
using StackExchange.Redis;

namespace Cocoon.Network.Transport;

/// <summary>A client's nonce relayed to one worker: answer with a signed statement on the gateway's result stream.</summary>
public sealed record AttestationChallenge(string ChallengeId, string ReplyTo, byte[] Nonce);

/// <summary>
/// Relays a client's attestation nonce to a worker: the gateway publishes "nonce hex:challenge id:reply-to stream" on
/// the worker's challenge channel, the worker signs a fresh statement over the nonce with its attested key and appends
/// it to the gateway's result stream under the challenge id (<c>ResultKind.Statement</c>). The gateway only relays:
/// it cannot make the signature, so the client's own check of it proves the worker answered now. Best effort: a lost
/// message is a worker that did not answer in time.
/// </summary>
public sealed class AttestationChallenges(IConnectionMultiplexer redis, RedisKeys keys)
{
    public const int NonceSize = 32;

    /// <summary>Fire and forget; false when Redis refused it (the worker then reports as unanswered).</summary>
    public bool Challenge(string workerId, AttestationChallenge challenge)
    {
        ArgumentNullException.ThrowIfNull(challenge);
        if (challenge.Nonce.Length != NonceSize || challenge.ChallengeId.Contains(':', StringComparison.Ordinal))
        {
            throw new ArgumentException("A challenge carries a 32-byte nonce and an id without ':'.", nameof(challenge));
        }

        try
        {
            redis.GetSubscriber().Publish(keys.WorkerChallenge(workerId),
                Convert.ToHexStringLower(challenge.Nonce) + ":" + challenge.ChallengeId + ":" + challenge.ReplyTo, CommandFlags.FireAndForget);
            return true;
        }
        catch (RedisException)
        {
            return false;
        }
    }

    /// <summary>Calls onChallenge for each well-formed challenge sent to this worker until the result is disposed.</summary>
    public async Task<IAsyncDisposable> SubscribeAsync(string workerId, Action<AttestationChallenge> onChallenge, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(onChallenge);
        var channel = keys.WorkerChallenge(workerId);
        var subscriber = redis.GetSubscriber();
        await subscriber.SubscribeAsync(channel, (_, message) =>
        {
            if (Parse((string?)message) is { } challenge)
            {
                onChallenge(challenge);
            }
        }).WaitAsync(cancellationToken).ConfigureAwait(false);
        return new Subscription(subscriber, channel);
    }

    private static readonly System.Buffers.SearchValues<char> HexDigits = System.Buffers.SearchValues.Create("0123456789abcdefABCDEF");

    /// <summary>"64 hex digits:challenge id:reply-to", or null.</summary>
    internal static AttestationChallenge? Parse(string? text)
    {
        const int nonceHex = NonceSize * 2;
        if (text is null || text.Length <= nonceHex + 1 || text[nonceHex] != ':' || text.AsSpan(0, nonceHex).ContainsAnyExcept(HexDigits))
        {
            return null;
        }

        var rest = text[(nonceHex + 1)..];
        var colon = rest.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0 || colon == rest.Length - 1)
        {
            return null;
        }

        return new AttestationChallenge(rest[..colon], rest[(colon + 1)..], Convert.FromHexString(text.AsSpan(0, nonceHex)));
    }

    private sealed class Subscription(ISubscriber subscriber, RedisChannel channel) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            try
            {
                await subscriber.UnsubscribeAsync(channel).ConfigureAwait(false);
            }
            catch (RedisException)
            {
                // The connection is gone; the server drops the subscription with it.
            }
        }
    }
}
