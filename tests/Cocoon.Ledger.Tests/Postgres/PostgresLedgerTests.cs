using System.Data.Common;
using Cocoon.Ledger.Accounts;
using Cocoon.Ledger.Checks;
using Cocoon.Ledger.Data;
using Cocoon.Ledger.Tests.Accounts;
using Cocoon.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Cocoon.Ledger.Tests.Postgres;

/// <summary>The same ledger on a real PostgreSQL server: migrations, the writer's SQL, races between two writers, the checker.</summary>
public sealed class PostgresLedgerTests(PostgresFixture postgres) : IClassFixture<PostgresFixture>, IAsyncLifetime
{
    private static readonly AccountId Provider = AccountId.Provider("pg");
    private readonly List<JournalLedger> _ledgers = [];
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(2));
    private LedgerDatabase? _database;

    private CancellationToken Ct => _timeout.Token;

    private LedgerDatabase Database => _database ?? throw new InvalidOperationException("not initialized");

    public async Task InitializeAsync()
    {
        if (PostgresServer.Unavailable is null)
        {
            _database = new LedgerDatabase(await postgres.Server.CreateDatabaseAsync(Ct));
            Assert.Equal(LedgerProvider.Postgres, _database.Provider);
            await _database.MigrateAsync(Ct);
        }
    }

    public async Task DisposeAsync()
    {
        foreach (var ledger in _ledgers)
        {
            await ledger.DisposeAsync();
        }

        if (_database is not null)
        {
            var report = await LedgerChecker.CheckAsync(_database, CancellationToken.None);
            Assert.True(report.Ok, report.Summary);
        }

        _timeout.Dispose();
    }

    [PostgresFact]
    public async Task Hold_settle_release_credit_and_statements()
    {
        var ledger = Create();
        var user = AccountId.User(1);
        await ledger.CreditAsync(user, 10_000, AccountId.TonHotWallet, "pg:fund", Ct);
        await ledger.CreditAsync(user, 10_000, AccountId.TonHotWallet, "pg:fund", Ct);
        Assert.True(await ledger.EnsureFreeAllowanceAsync(user, 500, Ct));
        Assert.False(await ledger.EnsureFreeAllowanceAsync(user, 500, Ct));

        var hold = await ledger.HoldAsync(user, 4_000, "pg:job1", Ct);
        Assert.Equal(hold, await ledger.HoldAsync(user, 4_000, "pg:job1", Ct));
        Assert.Equal(6_500, await ledger.GetBalanceAsync(user, Ct));
        Assert.Equal(1_100, await ledger.SettleAsync(hold.Id, [new Payee(Provider, 1_000), new Payee(AccountId.NetworkFee, 100)], Ct));
        Assert.Equal(1_100, await ledger.SettleAsync(hold.Id, [new Payee(Provider, 1_000)], Ct));
        var released = await ledger.HoldAsync(user, 1_000, "pg:job2", Ct);
        await ledger.ReleaseAsync(released.Id, Ct);
        await Assert.ThrowsAsync<HoldClosedException>(() => ledger.SettleAsync(released.Id, [new Payee(Provider, 1)], Ct));
        await Assert.ThrowsAsync<InsufficientFundsException>(() => ledger.HoldAsync(user, 1_000_000, "pg:job3", Ct));
        await Assert.ThrowsAsync<HoldNotFoundException>(() => ledger.ReleaseAsync(Guid.NewGuid(), Ct));

        Assert.Equal(new AccountBalance(user, 9_400, 0), await ledger.GetAccountAsync(user, Ct));
        Assert.Equal(1_000, await ledger.GetBalanceAsync(Provider, Ct));
        var recent = await ledger.GetRecentEntriesAsync(user, 10, Ct);
        Assert.Equal(["settle", "free-allowance", "credit"], recent.Select(l => l.Kind));
        var activity = await ledger.GetActivitySinceAsync(Provider, DateTimeOffset.UtcNow.AddMinutes(-5), Ct);
        Assert.Equal((1_000L, 0L, 1), (activity.Received, activity.Spent, activity.Entries));
    }

    [PostgresFact]
    public async Task Two_writers_race_on_keys_holds_and_one_balance()
    {
        var a = Create();
        var b = Create(maxBatch: 1);
        var user = AccountId.User(2);
        await Task.WhenAll(Enumerable.Range(0, 20).Select(i => (i % 2 == 0 ? a : b).CreditAsync(user, 1_000, AccountId.StarsClearing, "pg:same", Ct)));
        Assert.Equal(1_000, await a.GetBalanceAsync(user, Ct));

        var granted = 0;
        var refused = 0;
        await Task.WhenAll(Enumerable.Range(0, 30).Select(async i =>
        {
            try
            {
                var hold = await (i % 2 == 0 ? a : b).HoldAsync(user, 70, $"pg:greedy:{i}", Ct);
                Assert.Equal(70, hold.Amount);
                Interlocked.Increment(ref granted);
                await (i % 3 == 0 ? a : b).ReleaseAsync(hold.Id, Ct);
            }
            catch (InsufficientFundsException)
            {
                Interlocked.Increment(ref refused);
            }
        }));

        // Every attempt is either granted or refused (no hold lost, none granted twice), at least the first fits,
        // and once all are released nothing stays held.
        Assert.Equal(30, granted + refused);
        Assert.InRange(granted, 1, 30);
        Assert.Equal(new AccountBalance(user, 1_000, 0), await a.GetAccountAsync(user, Ct));
        Assert.Equal(new AccountBalance(user, 1_000, 0), await b.GetAccountAsync(user, Ct));
        Assert.Equal(1_000, await a.GetBalanceAsync(user, Ct));

        var settled = 0;
        for (var round = 0; round < 20; round++)
        {
            var hold = await a.HoldAsync(user, 100, $"pg:race:{round}", Ct);
            var settle = Task.Run(() => (round % 2 == 0 ? a : b).SettleAsync(hold.Id, [new Payee(Provider, 10)], Ct), Ct);
            await Task.Run(() => (round % 2 == 0 ? b : a).ReleaseAsync(hold.Id, Ct), Ct);
            try
            {
                await settle;
                settled++;
            }
            catch (HoldClosedException)
            {
            }
        }

        Assert.Equal(1_000 - (10 * settled), await a.GetBalanceAsync(user, Ct));
    }

    [PostgresFact]
    public async Task Expired_holds_are_released_and_the_checker_catches_corruption()
    {
        var clock = new ManualClock(DateTimeOffset.UtcNow);
        var ledger = Create(time: clock);
        var user = AccountId.User(3);
        await ledger.CreditAsync(user, 1_000, AccountId.TonHotWallet, "pg:fund3", Ct);
        await ledger.HoldAsync(user, 600, "pg:exp", Ct);
        clock.Now += TimeSpan.FromHours(1);
        Assert.Equal(1, await ledger.ExpireHoldsAsync(Ct));
        Assert.Equal(1_000, await ledger.GetBalanceAsync(user, Ct));
        Assert.True((await LedgerChecker.CheckAsync(Database, Ct)).Ok);

        await using (var connection = new NpgsqlConnection(Database.ConnectionString))
        {
            await connection.OpenAsync(Ct);
            await using var command = connection.CreateCommand();
            command.CommandText = "INSERT INTO \"LedgerPostings\" (\"EntryId\", \"AccountId\", \"Amount\") SELECT MIN(\"Id\"), 'user:3', 1 FROM \"LedgerEntries\"";
            await command.ExecuteNonQueryAsync(Ct);
        }

        var report = await LedgerChecker.CheckAsync(Database, Ct);
        Assert.False(report.Ok);
        Assert.Contains(report.Violations, v => v.Contains("sum to 1, not 0", StringComparison.Ordinal));

        await using (var connection = new NpgsqlConnection(Database.ConnectionString))
        {
            await connection.OpenAsync(Ct);
            await using var command = connection.CreateCommand();
            command.CommandText = "DELETE FROM \"LedgerPostings\" WHERE \"Amount\" = 1 AND \"AccountId\" = 'user:3'";
            await command.ExecuteNonQueryAsync(Ct);
        }
    }

    [PostgresFact]
    public Task A_crash_between_a_batchs_writes_and_its_commit_loses_nothing_and_doubles_nothing() =>
        CrashMidBatch.RunAsync(Create(), Create(), Terminate, "pg", Ct);

    [PostgresFact]
    public async Task Two_gateways_settling_on_the_same_accounts_balance_and_pay_once()
    {
        // The bench's shape in small: two writers, shared users, provider, fee and rounding; batches conflict and are
        // run again, never deadlock for good, and every settlement lands once.
        var a = Create();
        var b = Create();
        var users = Enumerable.Range(0, 5).Select(i => AccountId.User(700 + i)).ToArray();
        foreach (var user in users)
        {
            await a.CreditAsync(user, 10_000_000, AccountId.TonHotWallet, $"pg:two:{user}", Ct);
        }

        await Task.WhenAll(Enumerable.Range(0, 64).Select(async worker =>
        {
            var ledger = worker % 2 == 0 ? a : b;
            for (var job = 0; job < 10; job++)
            {
                var hold = await ledger.HoldAsync(users[(worker + job) % users.Length], 1_000, $"pg:two:{worker}:{job}", Ct);
                await ledger.SettleAsync(hold.Id, [new Payee(Provider, 700), new Payee(AccountId.NetworkFee, 60), new Payee(AccountId.Rounding, 1)], Ct);
            }
        }));

        Assert.Equal(640 * 700, await a.GetBalanceAsync(Provider, Ct));
        Assert.Equal(640 * 60, await b.GetBalanceAsync(AccountId.NetworkFee, Ct));
        Assert.Equal(640, await b.GetBalanceAsync(AccountId.Rounding, Ct));
        Assert.Equal(users.Length * 10_000_000L - (640 * 761), (await Task.WhenAll(users.Select(u => a.GetBalanceAsync(u, Ct)))).Sum());
        Assert.Equal(0, a.WriterStats.Deadlocks + b.WriterStats.Deadlocks);
    }

    /// <summary>What a crashed gateway leaves: its backend gone in the middle of a transaction.</summary>
    private void Terminate(DbConnection connection)
    {
        using var killer = new NpgsqlConnection(Database.ConnectionString);
        killer.Open();
        using var command = killer.CreateCommand();
        command.CommandText = "SELECT pg_terminate_backend(@pid, 10000)";
        command.Parameters.AddWithValue("pid", ((NpgsqlConnection)connection).ProcessID);
        Assert.Equal(true, command.ExecuteScalar());
    }

    [PostgresFact]
    public async Task Receipts_kept_through_the_writer_land_once_beside_settlements()
    {
        var ledger = Create();
        var payer = AccountId.User(77);
        await ledger.CreditAsync(payer, 100_000, AccountId.TonHotWallet, "pg:receipts", Ct);
        var store = new Ledger.Receipts.ReceiptStore(Database, ledger);
        await Task.WhenAll(Enumerable.Range(0, 32).Select(async i =>
        {
            var hold = await ledger.HoldAsync(payer, 1000, "dispatch:pg-r-" + i, Ct);
            var charged = await ledger.SettleAsync(hold.Id, [new Payee(Provider, 500)], Ct);
            await store.SaveAsync(Receipts.ReceiptGroupCommitTests.Record("pg-r-" + i, payer.Value, charged), Ct);
        }));
        await store.SaveAsync(Receipts.ReceiptGroupCommitTests.Record("pg-r-0", payer.Value, 1), Ct); // a repeat keeps the first

        Assert.Equal(32, (await store.UnanchoredAsync(100, Ct)).Count);
        Assert.Equal(500, (await store.FindAsync("pg-r-0", payer.Value, Ct))!.Value.Receipt.ChargedNanotons);
        Assert.Equal(100_000 - (32 * 500), await ledger.GetBalanceAsync(payer, Ct));
    }

    private JournalLedger Create(int maxBatch = 512, TimeProvider? time = null)
    {
        var ledger = new JournalLedger(Database, Options.Create(new LedgerOptions { MaxBatch = maxBatch }), time ?? TimeProvider.System, NullLogger<JournalLedger>.Instance);
        _ledgers.Add(ledger);
        return ledger;
    }
}
