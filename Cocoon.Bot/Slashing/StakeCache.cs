using System.Collections.Concurrent;
using Cocoon.Bot.MiniApp;
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
/// <remarks>
/// The payout address is only the provider's word: anyone may name another staker's wallet. So its stake counts (and
/// is slashable) only when the provider's Telegram user proved that wallet with ton_proof in the Mini App
/// (<see cref="WalletLinks"/>, one wallet per user); otherwise the position is <see cref="StakePosition.None"/>, so
/// a provider can neither be matched on someone else's stake nor get someone else's wallet slashed for its faults.
/// A provider with no Telegram user (the network's own local provider, Gateway:AllowLocalProvider) can prove nothing
/// and has no stake counted either.
/// </remarks>
public sealed partial class StakeCache(
    IServiceProvider services, IOptions<StakeOptions> options, TimeProvider time, ILogger<StakeCache> logger)
{
    private readonly ConcurrentDictionary<string, (StakePosition Position, TonAddress? Address, bool Proven, DateTimeOffset ReadAt)> _known = new(StringComparer.Ordinal);

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

    /// <summary>
    /// The provider's position read from the chain now (for the provider's own screens); null when stakes are off.
    /// Proven says whether the provider's Telegram user proved the address (ton_proof); when not, the position is
    /// <see cref="StakePosition.None"/> whatever the chain holds at that address.
    /// </summary>
    public async Task<(StakePosition Position, TonAddress? Address, bool Proven)?> ReadAsync(string providerId, CancellationToken cancellationToken)
    {
        if (Reader is not { } reader)
        {
            return null;
        }

        try
        {
            var provider = await services.GetRequiredService<ProviderDirectory>().GetAsync(providerId, cancellationToken).ConfigureAwait(false);
            var address = provider?.Profile.PayoutAddress is { Length: > 0 } text && TonAddress.TryParse(text, out var a) ? a : null;
            var proven = address is not null && await ProvenAsync(provider!.Profile.TelegramUserId, address, cancellationToken).ConfigureAwait(false);
            var position = proven ? await reader.ReadAsync(address!, cancellationToken).ConfigureAwait(false) : StakePosition.None;
            _known[providerId] = (position, address, proven, time.GetUtcNow());
            return (position, address, proven);
        }
        catch (Exception e) when (e is ToncenterException or HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            LogReadFailed(logger, providerId, e);
            return _known.TryGetValue(providerId, out var k) ? (k.Position, k.Address, k.Proven) : null;
        }
    }

    /// <summary>Whether the user proved (ton_proof, through the Mini App's TON Connect) the wallet at this address.</summary>
    private async Task<bool> ProvenAsync(long? telegramUserId, TonAddress address, CancellationToken cancellationToken) =>
        telegramUserId is { } user
        && await services.GetRequiredService<WalletLinks>().GetAsync(user, cancellationToken).ConfigureAwait(false) is { } linked
        && TonAddress.TryParse(linked, out var proven) && proven is not null
        && string.Equals(proven.ToRaw(), address.ToRaw(), StringComparison.Ordinal);

    /// <summary>Forgets what was read of a provider (after a slash), so the next match reads the chain.</summary>
    public void Invalidate(string providerId) => _known.TryRemove(providerId, out _);

    [LoggerMessage(EventId = LogEvents.Slashing + 1, Level = LogLevel.Warning, Message = "Reading the stake of provider {ProviderId} failed; the last value read stands")]
    private static partial void LogReadFailed(ILogger logger, string providerId, Exception exception);
}
