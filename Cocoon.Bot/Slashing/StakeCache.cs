using System.Collections.Concurrent;
using Cocoon.Engine.Matching;
using Cocoon.Ledger.Stake;
using Cocoon.Ledger.Ton;
using Cocoon.Network.Providers;
using Microsoft.Extensions.Options;

namespace Cocoon.Bot.Slashing;

/// <summary>
/// Providers' stakes as this gateway last read them from the stake contract (through <see cref="StakeReader"/>), each
/// trusted for Gateway:Stake:CacheTtl. A provider's stake is the position of its payout address: the wallet it is paid
/// to is the one it stakes from. A provider without a payout address, or one never read, has no stake. When no
/// contract is configured (Ton:StakeContract empty, or no chain API) stakes are not checked at all.
/// </summary>
public sealed partial class StakeCache(
    IServiceProvider services, IOptions<StakeOptions> options, TimeProvider time, ILogger<StakeCache> logger)
{
    private readonly ConcurrentDictionary<string, (StakePosition Position, TonAddress? Address, DateTimeOffset ReadAt)> _known = new(StringComparer.Ordinal);

    private StakeReader? Reader => services.GetService<StakeReader>() is { Contract: not null } reader ? reader : null;

    /// <summary>True when a stake contract is configured: stakes are read and checked, faults slashed.</summary>
    public bool Enabled => Reader is not null;

    /// <summary>The stake each staked tier needs for a job of this class; null when stakes are not checked.</summary>
    public IReadOnlyDictionary<string, long>? Requirement(SlaClass sla)
    {
        if (!Enabled)
        {
            return null;
        }

        var required = options.Value.Required(sla);
        return options.Value.StakedTiers.Distinct(StringComparer.Ordinal).ToDictionary(t => t, _ => required, StringComparer.Ordinal);
    }

    /// <summary>The stake any job in a staked tier needs (Gateway:Stake:Minimum).</summary>
    public long Minimum => options.Value.Minimum;

    /// <summary>Whether workers of this tier need a staked provider.</summary>
    public bool Needed(string tier) => Enabled && options.Value.StakedTiers.Contains(tier, StringComparer.Ordinal);

    /// <summary>The provider's bonded stake as last read (0 when never read or unknown).</summary>
    public long Stake(string providerId) => _known.TryGetValue(providerId, out var k) ? k.Position.Stake : 0;

    /// <summary>Reads again the providers whose stake is older than the TTL (in parallel); a failed read keeps the old value.</summary>
    public async Task RefreshAsync(IEnumerable<string> providerIds, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(providerIds);
        if (!Enabled)
        {
            return;
        }

        var now = time.GetUtcNow();
        var stale = providerIds.Distinct(StringComparer.Ordinal)
            .Where(id => !_known.TryGetValue(id, out var k) || now - k.ReadAt >= options.Value.CacheTtl)
            .ToList();
        await Task.WhenAll(stale.Select(id => ReadAsync(id, cancellationToken))).ConfigureAwait(false);
    }

    /// <summary>The provider's position read from the chain now (for the provider's own screens); null when stakes are off.</summary>
    public async Task<(StakePosition Position, TonAddress? Address)?> ReadAsync(string providerId, CancellationToken cancellationToken)
    {
        if (Reader is not { } reader)
        {
            return null;
        }

        try
        {
            var provider = await services.GetRequiredService<ProviderDirectory>().GetAsync(providerId, cancellationToken).ConfigureAwait(false);
            var address = provider?.Profile.PayoutAddress is { Length: > 0 } text && TonAddress.TryParse(text, out var a) ? a : null;
            var position = address is null ? StakePosition.None : await reader.ReadAsync(address, cancellationToken).ConfigureAwait(false);
            _known[providerId] = (position, address, time.GetUtcNow());
            return (position, address);
        }
        catch (Exception e) when (e is ToncenterException or HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            LogReadFailed(logger, providerId, e);
            return _known.TryGetValue(providerId, out var k) ? (k.Position, k.Address) : null;
        }
    }

    /// <summary>Forgets what was read of a provider (after a slash), so the next match reads the chain.</summary>
    public void Invalidate(string providerId) => _known.TryRemove(providerId, out _);

    [LoggerMessage(EventId = LogEvents.Slashing + 1, Level = LogLevel.Warning, Message = "Reading the stake of provider {ProviderId} failed; the last value read stands")]
    private static partial void LogReadFailed(ILogger logger, string providerId, Exception exception);
}
