using Cocoon.Ledger.Data;
using Microsoft.EntityFrameworkCore;

namespace Cocoon.Ledger.Chain;

/// <summary>The chain-state tables in the ledger's database (same SQLite file or PostgreSQL database, own migrations).</summary>
public sealed class ChainDatabase
{
    private readonly LedgerDatabase _ledger;
    private readonly DbContextOptions _options;

    public ChainDatabase(LedgerDatabase ledger)
    {
        ArgumentNullException.ThrowIfNull(ledger);
        _ledger = ledger;
        _options = ledger.Provider == LedgerProvider.Sqlite
            ? new DbContextOptionsBuilder<SqliteChainDbContext>()
                .UseSqlite(ledger.ConnectionString, o => o.MigrationsHistoryTable(ChainDbContext.MigrationsHistoryTable)).Options
            : new DbContextOptionsBuilder<PostgresChainDbContext>()
                .UseNpgsql(ledger.ConnectionString, o => o.MigrationsHistoryTable(ChainDbContext.MigrationsHistoryTable)).Options;
    }

    public ChainDbContext CreateContext() => _ledger.Provider == LedgerProvider.Sqlite
        ? new SqliteChainDbContext((DbContextOptions<SqliteChainDbContext>)_options)
        : new PostgresChainDbContext((DbContextOptions<PostgresChainDbContext>)_options);

    /// <summary>Applies the ledger's migrations first (they create the file and set WAL), then ours.</summary>
    public async Task MigrateAsync(CancellationToken cancellationToken)
    {
        await _ledger.MigrateAsync(cancellationToken).ConfigureAwait(false);
        await using var db = CreateContext();
        await db.Database.MigrateAsync(cancellationToken).ConfigureAwait(false);
    }
}
