using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Cocoon.Ledger.Accounts;
using Microsoft.Extensions.Options;

namespace Cocoon.Bot.Dispatch;

/// <summary>
/// The prefix-cache scope of a job and the worker that served its scope last. A scope is HMAC-SHA-256 under a gateway
/// secret (Gateway:CacheScopeKey) of the payer and the conversation, so a worker sees an opaque value it can neither
/// link to a user nor forge for another user's conversation; a worker reuses cached prompt tokens only within one
/// scope. The last worker per scope is remembered in this gateway's memory (bounded; forgotten on restart), so the
/// next turn is routed to where its cache is (<see cref="Engine.Matching.JobSpec.CacheAffinity"/>).
/// </summary>
public sealed class CacheScopes
{
    // Enough for every live conversation of a busy gateway; past it the map starts over (only a routing hint is lost).
    private const int MaxRemembered = 100_000;

    private readonly byte[] _key;
    private readonly ConcurrentDictionary<string, string> _lastWorker = new(StringComparer.Ordinal);

    public CacheScopes(IOptions<DispatchOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        // Without a configured key each start draws one: scopes then change on restart and differ between gateway
        // instances, which only costs cache hits.
        _key = options.Value.CacheScopeKey is { Length: > 0 } key ? Convert.FromBase64String(key) : RandomNumberGenerator.GetBytes(32);
    }

    /// <summary>The scope of <paramref name="conversation"/> in <paramref name="payer"/>'s account; null when there is no conversation.</summary>
    public string? For(AccountId payer, string? conversation)
    {
        if (string.IsNullOrEmpty(conversation))
        {
            return null;
        }

        var message = Encoding.UTF8.GetBytes($"cocoon/cache-scope/v1\n{payer.Value}\n{conversation}");
        return Convert.ToBase64String(HMACSHA256.HashData(_key, message));
    }

    /// <summary>The worker that last answered in this scope, if this gateway remembers one.</summary>
    public string? LastWorker(string? scope) => scope is not null && _lastWorker.TryGetValue(scope, out var worker) ? worker : null;

    public void Served(string? scope, string workerId)
    {
        if (scope is null)
        {
            return;
        }

        if (_lastWorker.Count >= MaxRemembered)
        {
            _lastWorker.Clear();
        }

        _lastWorker[scope] = workerId;
    }
}
