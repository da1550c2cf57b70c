using Cocoon.Bot.Hosting;
using Cocoon.Ledger.Data;
using Cocoon.Network.Providers;
using Microsoft.EntityFrameworkCore;

namespace Cocoon.Bot.Providers;

/// <summary>
/// The gateway's provider records, in the ledger database (table Providers). Records of the earlier Redis layout are
/// moved in on first use after start and deleted from Redis, so registered providers keep their tokens, payout
/// addresses and settings.
/// </summary>
public sealed class LedgerProviderStore(LedgerDatabase database, RedisProviderStore earlier) : IProviderStore
{
    private ReadyOnce? _ready;

    public async Task AddAsync(ProviderInfo provider, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(provider);
        await ReadyAsync(cancellationToken).ConfigureAwait(false);
        await InsertAsync(provider, cancellationToken).ConfigureAwait(false);
    }

    public async Task<ProviderInfo?> GetAsync(string providerId, CancellationToken cancellationToken)
    {
        await ReadyAsync(cancellationToken).ConfigureAwait(false);
        await using var db = database.CreateContext();
        var row = await db.Providers.AsNoTracking().FirstOrDefaultAsync(p => p.ProviderId == providerId, cancellationToken).ConfigureAwait(false);
        return row is null ? null : ToInfo(row);
    }

    public async Task<ProviderInfo?> FindByTokenHashAsync(string tokenSha256, CancellationToken cancellationToken)
    {
        await ReadyAsync(cancellationToken).ConfigureAwait(false);
        await using var db = database.CreateContext();
        var row = await db.Providers.AsNoTracking().FirstOrDefaultAsync(p => p.TokenSha256 == tokenSha256, cancellationToken).ConfigureAwait(false);
        return row is null ? null : ToInfo(row);
    }

    public async Task<IReadOnlyList<ProviderInfo>> ListAsync(CancellationToken cancellationToken)
    {
        await ReadyAsync(cancellationToken).ConfigureAwait(false);
        await using var db = database.CreateContext();
        var rows = await db.Providers.AsNoTracking().OrderBy(p => p.CreatedAtMs).ToListAsync(cancellationToken).ConfigureAwait(false);
        return [.. rows.Select(ToInfo)];
    }

    public async Task<bool> UpdateAsync(string providerId, Func<ProviderInfo, ProviderInfo> change, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(change);
        await ReadyAsync(cancellationToken).ConfigureAwait(false);
        await using var db = database.CreateContext();
        var row = await db.Providers.FirstOrDefaultAsync(p => p.ProviderId == providerId, cancellationToken).ConfigureAwait(false);
        if (row is null)
        {
            return false;
        }

        var next = change(ToInfo(row));
        row.Name = next.Profile.Name;
        row.TelegramUserId = next.Profile.TelegramUserId;
        row.PayoutAddress = next.Profile.PayoutAddress;
        row.Contact = next.Profile.Contact;
        row.Paused = next.Paused;
        row.PriceCoefficient = next.PriceCoefficient;
        row.TokenSha256 = next.TokenSha256;
        row.ProviderKey = next.ProviderKey;
        row.RevokedProviderKeys = next.Revoked.Count == 0 ? null : string.Join(' ', next.Revoked);
        await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        return true;
    }

    private async Task InsertAsync(ProviderInfo p, CancellationToken cancellationToken)
    {
        await using var db = database.CreateContext();
        db.Providers.Add(new ProviderRecord
        {
            ProviderId = p.ProviderId,
            Name = p.Profile.Name,
            TelegramUserId = p.Profile.TelegramUserId,
            PayoutAddress = p.Profile.PayoutAddress,
            Contact = p.Profile.Contact,
            Paused = p.Paused,
            PriceCoefficient = p.PriceCoefficient,
            TokenSha256 = p.TokenSha256,
            CreatedAtMs = p.CreatedAt.ToUnixTimeMilliseconds(),
            ProviderKey = p.ProviderKey,
            RevokedProviderKeys = p.Revoked.Count == 0 ? null : string.Join(' ', p.Revoked),
        });
        await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
    }

    private static ProviderInfo ToInfo(ProviderRecord r) => new(
        r.ProviderId,
        new ProviderProfile(r.Name, r.TelegramUserId, r.PayoutAddress, r.Contact),
        r.Paused,
        r.PriceCoefficient,
        r.TokenSha256,
        DateTimeOffset.FromUnixTimeMilliseconds(r.CreatedAtMs),
        r.ProviderKey,
        r.RevokedProviderKeys?.Split(' ', StringSplitOptions.RemoveEmptyEntries));

    /// <summary>The database's migrations, then the one-time move of Redis records; retried after a failure.</summary>
    private Task ReadyAsync(CancellationToken cancellationToken) =>
        LazyInitializer.EnsureInitialized(ref _ready, () => new ReadyOnce(PrepareAsync)).EnsureAsync(cancellationToken);

    private async Task PrepareAsync(CancellationToken cancellationToken)
    {
        await database.MigrateAsync(cancellationToken).ConfigureAwait(false);
        foreach (var provider in await earlier.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            await using (var db = database.CreateContext())
            {
                if (!await db.Providers.AnyAsync(p => p.ProviderId == provider.ProviderId || p.TokenSha256 == provider.TokenSha256, cancellationToken).ConfigureAwait(false))
                {
                    try
                    {
                        await InsertAsync(provider, cancellationToken).ConfigureAwait(false);
                    }
                    catch (DbUpdateException)
                    {
                        // Another gateway moved it at the same moment.
                    }
                }
            }

            await earlier.DeleteAsync(provider, cancellationToken).ConfigureAwait(false);
        }
    }
}
