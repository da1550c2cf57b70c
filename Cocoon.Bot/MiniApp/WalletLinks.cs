using Cocoon.Bot.Hosting;
using Cocoon.Network.Transport;
using StackExchange.Redis;

namespace Cocoon.Bot.MiniApp;

/// <summary>Thrown when a wallet proven by one user is already linked to another.</summary>
public sealed class WalletLinkedElsewhereException() : Exception("This wallet is already linked to another Telegram account.");

/// <summary>
/// Which TON wallet a Telegram user proved (ton_proof) they control, in Redis under the gateway's prefix.
/// One wallet belongs to at most one user, so payouts to it can't be claimed by someone else; a user may switch wallets.
/// </summary>
/// <remarks>
/// Both hashes carry the hash tag {wallets}: a link claims the wallet and points the user at it in one transaction,
/// which Redis Cluster runs only when every key is in one slot. The names before the tag (no braces) are moved on
/// first use; on a cluster they can hold nothing to move, since the link transaction could never run there.
/// </remarks>
public sealed class WalletLinks(IConnectionMultiplexer redis, RedisKeys keys)
{
    private readonly RedisKey _byUser = keys.Prefix + "miniapp:wallet:by-user:{wallets}";
    private readonly RedisKey _byWallet = keys.Prefix + "miniapp:wallet:by-address:{wallets}";
    private ReadyOnce? _ready;

    /// <summary>The names the two hashes had before they were tagged.</summary>
    internal static (RedisKey ByUser, RedisKey ByWallet) LegacyKeys(RedisKeys keys) =>
        (keys.Prefix + "miniapp:wallet:by-user", keys.Prefix + "miniapp:wallet:by-address");

    /// <summary>The raw address ("0:hex") linked to the user, or null.</summary>
    public async Task<string?> GetAsync(long userId, CancellationToken cancellationToken)
    {
        await ReadyAsync(cancellationToken).ConfigureAwait(false);
        var value = await redis.GetDatabase().HashGetAsync(_byUser, userId).WaitAsync(cancellationToken).ConfigureAwait(false);
        return value.IsNullOrEmpty ? null : value.ToString();
    }

    /// <summary>Links <paramref name="rawAddress"/> to the user; throws <see cref="WalletLinkedElsewhereException"/> if another user holds it.</summary>
    public async Task LinkAsync(long userId, string rawAddress, CancellationToken cancellationToken)
    {
        await ReadyAsync(cancellationToken).ConfigureAwait(false);
        var db = redis.GetDatabase();
        var user = userId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        while (true)
        {
            var previous = await db.HashGetAsync(_byUser, userId).WaitAsync(cancellationToken).ConfigureAwait(false);
            var owner = await db.HashGetAsync(_byWallet, rawAddress).WaitAsync(cancellationToken).ConfigureAwait(false);
            if (!owner.IsNullOrEmpty && owner.ToString() != user)
            {
                throw new WalletLinkedElsewhereException();
            }

            // Claim the wallet only while it is free or already ours, and release the user's previous wallet in the
            // same step: both as read, or another replica's link in between is not undone (then read again).
            var tx = db.CreateTransaction();
            tx.AddCondition(previous.IsNullOrEmpty ? Condition.HashNotExists(_byUser, userId) : Condition.HashEqual(_byUser, userId, previous));
            tx.AddCondition(owner.IsNullOrEmpty ? Condition.HashNotExists(_byWallet, rawAddress) : Condition.HashEqual(_byWallet, rawAddress, owner));
            _ = tx.HashSetAsync(_byWallet, rawAddress, userId);
            _ = tx.HashSetAsync(_byUser, userId, rawAddress);
            if (!previous.IsNullOrEmpty && previous != rawAddress)
            {
                _ = tx.HashDeleteAsync(_byWallet, previous.ToString());
            }

            if (await tx.ExecuteAsync().WaitAsync(cancellationToken).ConfigureAwait(false))
            {
                return;
            }
        }
    }

    private Task ReadyAsync(CancellationToken cancellationToken) =>
        LazyInitializer.EnsureInitialized(ref _ready, () => new ReadyOnce(MoveLegacyAsync)).EnsureAsync(cancellationToken);

    /// <summary>
    /// Copies the links of the untagged hashes into the tagged ones (an entry already there wins) and deletes what was
    /// copied. One key per command, so it runs on a cluster too; idempotent, so gateways starting together or a restart
    /// half way through are harmless.
    /// </summary>
    private async Task MoveLegacyAsync(CancellationToken cancellationToken)
    {
        var db = redis.GetDatabase();
        var (legacyByUser, legacyByWallet) = LegacyKeys(keys);
        foreach (var (legacy, current) in new[] { (legacyByWallet, _byWallet), (legacyByUser, _byUser) })
        {
            var entries = await db.HashGetAllAsync(legacy).WaitAsync(cancellationToken).ConfigureAwait(false);
            if (entries.Length == 0)
            {
                continue;
            }

            foreach (var entry in entries)
            {
                await db.HashSetAsync(current, entry.Name, entry.Value, When.NotExists).WaitAsync(cancellationToken).ConfigureAwait(false);
            }

            await db.HashDeleteAsync(legacy, [.. entries.Select(e => e.Name)]).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }
}
