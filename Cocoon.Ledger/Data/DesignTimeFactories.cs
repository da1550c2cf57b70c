using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace Cocoon.Ledger.Data;

// Used only by `dotnet ef migrations add`; never at run time. The connection strings are placeholders:
// generating a migration needs the provider, not a server.
internal sealed class SqliteDesignTimeFactory : IDesignTimeDbContextFactory<SqliteLedgerDbContext>
{
    public SqliteLedgerDbContext CreateDbContext(string[] args) => new(new DbContextOptionsBuilder<SqliteLedgerDbContext>()
        .UseSqlite("Data Source=design-time.db", o => o.MigrationsHistoryTable(LedgerDbContext.MigrationsHistoryTable))
        .Options);
}

internal sealed class PostgresDesignTimeFactory : IDesignTimeDbContextFactory<PostgresLedgerDbContext>
{
    public PostgresLedgerDbContext CreateDbContext(string[] args) => new(new DbContextOptionsBuilder<PostgresLedgerDbContext>()
        .UseNpgsql("Host=localhost;Database=cocoon_design", o => o.MigrationsHistoryTable(LedgerDbContext.MigrationsHistoryTable))
        .Options);
}
