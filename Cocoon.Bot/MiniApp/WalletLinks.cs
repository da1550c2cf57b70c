using Cocoon.Network.Transport;
using StackExchange.Redis;

namespace Cocoon.Bot.MiniApp;

/// <summary>Thrown when a wallet proven by one user is already linked to another.</summary>
public sealed class WalletLinkedElsewhereException() : Exception("This wallet is already linked to another Telegram account.");

/// <summary>
/// Which TON wallet a Telegram user proved (ton_proof) they control, in Redis under the gateway's prefix.
/// One wallet belongs to at most one user, so payouts to it can't be claimed by someone else; a user may switch wallets.
/// </summary>
public sealed class WalletLinks(IConnectionMultiplexer redis, RedisKeys keys)
{
    private readonly RedisKey _byUser = keys.Prefix + "miniapp:wallet:by-user";
    private readonly RedisKey _byWallet = keys.Prefix + "miniapp:wallet:by-address";

    /// <summary>The raw address ("0:hex") linked to the user, or null.</summary>
    public async Task<string?> GetAsync(long userId, CancellationToken cancellationToken)
    {
        var value = await redis.GetDatabase().HashGetAsync(_byUser, userId).WaitAsync(cancellationToken).ConfigureAwait(false);
        return value.IsNullOrEmpty ? null : value.ToString();
    }

    /// <summary>Links <paramref name="rawAddress"/> to the user; throws <see cref="WalletLinkedElsewhereException"/> if another user holds it.</summary>
    public async Task LinkAsync(long userId, string rawAddress, CancellationToken cancellationToken)
    {
        var db = redis.GetDatabase();
        var previous = await db.HashGetAsync(_byUser, userId).WaitAsync(cancellationToken).ConfigureAwait(false);
        var tx = db.CreateTransaction();
        // Claim the wallet only if it is free or already ours; release the user's previous wallet in the same step.
        tx.AddCondition(Condition.HashNotExists(_byWallet, rawAddress));
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

        var owner = await db.HashGetAsync(_byWallet, rawAddress).WaitAsync(cancellationToken).ConfigureAwait(false);
        if (owner.ToString() != userId.ToString(System.Globalization.CultureInfo.InvariantCulture))
        {
            throw new WalletLinkedElsewhereException();
        }
    }
}
