using Cocoon.Ledger.Accounts;
using Cocoon.Ledger.Checks;
using Cocoon.Ledger.Data;
using Cocoon.Testing;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Cocoon.Ledger.Tests;

/// <summary>
/// Each test gets its own SQLite file in a temp folder; after the test every ledger on it is shut down and the
/// invariant checker must find nothing wrong (the same check `cocoon ledger check` runs).
/// </summary>
public abstract class LedgerTestBase : IAsyncLifetime
{
    private readonly List<JournalLedger> _ledgers = [];
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(1));

    protected LedgerTestBase()
    {
        Dir = new TempDir("cocoon-ledger");
        Database = new LedgerDatabase($"Data Source={Dir.File("ledger.db")}");
        Ledger = CreateLedger();
    }

    protected TempDir Dir { get; }

    protected LedgerDatabase Database { get; }

    protected JournalLedger Ledger { get; }

    /// <summary>Set to false by a test that corrupts the ledger on purpose.</summary>
    protected bool CheckAfterTest { get; set; } = true;

    /// <summary>Every test call gives up after a minute rather than hang the suite.</summary>
    protected CancellationToken Ct => _timeout.Token;

    protected JournalLedger CreateLedger(int maxBatch = 512, TimeProvider? time = null, TimeSpan? holdTtl = null) =>
        CreateLedger(Database, maxBatch, time, holdTtl);

    /// <summary>Another writer on the same file, as a second process would be.</summary>
    protected JournalLedger CreateLedger(LedgerDatabase database, int maxBatch = 512, TimeProvider? time = null, TimeSpan? holdTtl = null)
    {
        var options = new LedgerOptions { MaxBatch = maxBatch, HoldTtl = holdTtl ?? TimeSpan.FromMinutes(15) };
        var ledger = new JournalLedger(database, Options.Create(options), time ?? TimeProvider.System, NullLogger<JournalLedger>.Instance);
        _ledgers.Add(ledger);
        return ledger;
    }

    protected async Task FundAsync(AccountId account, long amount) =>
        await Ledger.CreditAsync(account, amount, AccountId.TonHotWallet, "fund:" + Guid.NewGuid(), Ct);

    protected static AccountId NewUser() => AccountId.User(Random.Shared.NextInt64(1, long.MaxValue));

    public Task InitializeAsync() => Database.MigrateAsync(CancellationToken.None);

    public async Task DisposeAsync()
    {
        foreach (var ledger in _ledgers)
        {
            await ledger.DisposeAsync();
        }

        try
        {
            if (CheckAfterTest)
            {
                var report = await LedgerChecker.CheckAsync(Database, CancellationToken.None);
                Assert.True(report.Ok, report.Summary + Environment.NewLine + string.Join(Environment.NewLine, report.Violations));
            }
        }
        finally
        {
            _timeout.Dispose();
            SqliteConnection.ClearAllPools();
            Dir.Dispose();
        }
    }
}

/// <summary>A clock the test moves by hand.</summary>
public sealed class ManualClock(DateTimeOffset start) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = start;

    public override DateTimeOffset GetUtcNow() => Now;
}
