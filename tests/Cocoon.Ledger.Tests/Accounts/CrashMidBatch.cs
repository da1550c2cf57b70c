using System.Data.Common;
using Cocoon.Ledger.Accounts;

namespace Cocoon.Ledger.Tests.Accounts;

/// <summary>
/// A gateway's settlements with the writer's connection killed between a batch's writes and its commit (the worst
/// moment: every row sent, nothing committed), then the gateway "restarted" (a fresh ledger) replaying every job with
/// the same keys. Nothing may be lost (every job ends settled) and nothing doubled (every total exact), on SQLite and
/// PostgreSQL alike; the test base then runs the ledger check.
/// </summary>
internal static class CrashMidBatch
{
    public const int Jobs = 120;
    public const long Hold = 1_000;
    public const long Earned = 600;
    public const long Fee = 50;

    /// <param name="first">The gateway that crashes.</param>
    /// <param name="restarted">The same gateway after its restart (a new writer on the same database).</param>
    /// <param name="kill">Kills the writer's connection the way a crash would (the transaction is never committed).</param>
    public static async Task RunAsync(JournalLedger first, JournalLedger restarted, Action<DbConnection> kill, string tag, CancellationToken ct)
    {
        var provider = AccountId.Provider("crash-" + tag);
        var users = Enumerable.Range(0, 10).Select(i => AccountId.User(9_000_000 + i)).ToArray();
        foreach (var user in users)
        {
            await first.CreditAsync(user, 1_000_000, AccountId.TonHotWallet, $"crash-fund:{tag}:{user}", ct);
        }

        var feeBefore = await first.GetBalanceAsync(AccountId.NetworkFee, ct);
        var crashes = 0;
        first.BeforeCommit = connection =>
        {
            if (crashes < 3)
            {
                crashes++;
                kill(connection);
            }
        };

        // Each job retries with its own key until it has its answer, as the gateway's billing does.
        var charged = await Task.WhenAll(Enumerable.Range(0, Jobs).Select(job => WithRetries(async () =>
        {
            var hold = await first.HoldAsync(users[job % users.Length], Hold, $"crash:{tag}:{job}", ct);
            return (hold.Id, await first.SettleAsync(hold.Id, [new Payee(provider, Earned), new Payee(AccountId.NetworkFee, Fee)], ct));
        })));

        Assert.True(crashes >= 1, "no batch was interrupted");
        Assert.All(charged, c => Assert.Equal(Earned + Fee, c.Item2));

        // The restarted gateway replays every job: the same holds come back and settling again charges nothing more.
        var replayed = await Task.WhenAll(Enumerable.Range(0, Jobs).Select(async job =>
        {
            var hold = await restarted.HoldAsync(users[job % users.Length], Hold, $"crash:{tag}:{job}", ct);
            return (hold.Id, await restarted.SettleAsync(hold.Id, [new Payee(provider, Earned), new Payee(AccountId.NetworkFee, Fee)], ct));
        }));
        Assert.Equal(charged, replayed);

        Assert.Equal(Jobs * Earned, await restarted.GetBalanceAsync(provider, ct));
        Assert.Equal(feeBefore + (Jobs * Fee), await restarted.GetBalanceAsync(AccountId.NetworkFee, ct));
        var perUser = Jobs / users.Length * (Earned + Fee);
        foreach (var user in users)
        {
            Assert.Equal(new AccountBalance(user, 1_000_000 - perUser, 0), await restarted.GetAccountAsync(user, ct));
        }

        var earnings = await restarted.GetActivitySinceAsync(provider, DateTimeOffset.UnixEpoch, ct);
        Assert.Equal(Jobs, earnings.Entries);
    }

    private static async Task<T> WithRetries<T>(Func<Task<T>> call)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await call();
            }
            catch (Exception) when (attempt < 5)
            {
                // The connection died under this call: ask again with the same key.
            }
        }
    }
}
