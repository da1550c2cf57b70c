using Cocoon.Ledger.Deposits;
using Cocoon.Ledger.Payouts;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace Cocoon.Ledger.Chain;

/// <summary>
/// What the TON side remembers: invoices, deposits seen, the read cursor and payouts. Lives in the ledger's database
/// with its own migrations history table so it never collides with the ledger's context; one subclass per provider
/// so each keeps its own checked-in migrations.
/// </summary>
public abstract class ChainDbContext(DbContextOptions options) : DbContext(options)
{
    public const string MigrationsHistoryTable = "__ChainMigrationsHistory";

    public DbSet<DepositInvoice> Invoices => Set<DepositInvoice>();

    public DbSet<DepositReceipt> Receipts => Set<DepositReceipt>();

    public DbSet<ChainCursor> Cursors => Set<ChainCursor>();

    public DbSet<PayoutRequest> PayoutRequests => Set<PayoutRequest>();

    public DbSet<PayoutBatch> PayoutBatches => Set<PayoutBatch>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        ArgumentNullException.ThrowIfNull(modelBuilder);
        modelBuilder.Entity<DepositInvoice>(e =>
        {
            e.ToTable("ton_invoices");
            e.HasKey(x => x.Id);
            e.Property(x => x.Comment).HasMaxLength(64);
            e.HasIndex(x => x.Comment).IsUnique();
            e.Property(x => x.Account).HasMaxLength(128);
            e.HasIndex(x => x.Account);
            e.Property(x => x.Status).HasConversion<string>().HasMaxLength(16);
        });
        modelBuilder.Entity<DepositReceipt>(e =>
        {
            e.ToTable("ton_deposits");
            e.HasKey(x => x.TransactionHash);
            e.Property(x => x.TransactionHash).HasMaxLength(64);
            e.Property(x => x.Source).HasMaxLength(80);
            e.Property(x => x.Account).HasMaxLength(128);
            e.Property(x => x.Outcome).HasConversion<string>().HasMaxLength(16);
            e.HasIndex(x => x.InvoiceId);
        });
        modelBuilder.Entity<ChainCursor>(e =>
        {
            e.ToTable("ton_cursors");
            e.HasKey(x => x.Account);
            e.Property(x => x.Account).HasMaxLength(80);
            e.Property(x => x.TransactionHash).HasMaxLength(64);
        });
        modelBuilder.Entity<PayoutRequest>(e =>
        {
            e.ToTable("ton_payouts");
            e.HasKey(x => x.Id);
            e.Property(x => x.IdempotencyKey).HasMaxLength(128);
            e.HasIndex(x => x.IdempotencyKey).IsUnique();
            e.Property(x => x.Provider).HasMaxLength(128);
            e.Property(x => x.Destination).HasMaxLength(80);
            e.Property(x => x.Status).HasConversion<string>().HasMaxLength(16);
            e.HasIndex(x => new { x.Status, x.CreatedAt });
            e.HasIndex(x => x.BatchId);
        });
        modelBuilder.Entity<PayoutBatch>(e =>
        {
            e.ToTable("ton_payout_batches");
            e.HasKey(x => x.Id);
            e.Property(x => x.MessageHash).HasMaxLength(64);
            e.Property(x => x.Wallet).HasMaxLength(80);
            e.Property(x => x.TransactionHash).HasMaxLength(64);
            e.Property(x => x.Status).HasConversion<string>().HasMaxLength(16);
            e.HasIndex(x => x.Status);
        });

        // SQLite cannot order or compare DateTimeOffset; store it as a sortable 64-bit number.
        foreach (var entity in modelBuilder.Model.GetEntityTypes())
        {
            foreach (var property in entity.GetProperties().Where(p => p.ClrType == typeof(DateTimeOffset) || p.ClrType == typeof(DateTimeOffset?)))
            {
                property.SetValueConverter(new Microsoft.EntityFrameworkCore.Storage.ValueConversion.DateTimeOffsetToBinaryConverter());
            }
        }
    }
}

public sealed class SqliteChainDbContext(DbContextOptions<SqliteChainDbContext> options) : ChainDbContext(options);

public sealed class PostgresChainDbContext(DbContextOptions<PostgresChainDbContext> options) : ChainDbContext(options);

// Used only by `dotnet ef migrations add`; the connection strings are placeholders.
internal sealed class SqliteChainDesignTimeFactory : IDesignTimeDbContextFactory<SqliteChainDbContext>
{
    public SqliteChainDbContext CreateDbContext(string[] args) => new(new DbContextOptionsBuilder<SqliteChainDbContext>()
        .UseSqlite("Data Source=design-time.db", o => o.MigrationsHistoryTable(ChainDbContext.MigrationsHistoryTable))
        .Options);
}

internal sealed class PostgresChainDesignTimeFactory : IDesignTimeDbContextFactory<PostgresChainDbContext>
{
    public PostgresChainDbContext CreateDbContext(string[] args) => new(new DbContextOptionsBuilder<PostgresChainDbContext>()
        .UseNpgsql("Host=localhost;Database=cocoon_design", o => o.MigrationsHistoryTable(ChainDbContext.MigrationsHistoryTable))
        .Options);
}
