using Cocoon.Ledger.Deposits;
using Cocoon.Ledger.Payouts;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace Cocoon.Ledger.Chain;

/// <summary>
/// What the TON side remembers: invoices, deposits seen, the read cursor and payouts. Lives in the ledger's database
/// file with its own migrations history table so it never collides with the ledger's context.
/// </summary>
public sealed class ChainDbContext(DbContextOptions<ChainDbContext> options) : DbContext(options)
{
    public const string MigrationsHistoryTable = "__ChainMigrationsHistory";

    public DbSet<DepositInvoice> Invoices => Set<DepositInvoice>();

    public DbSet<DepositReceipt> Receipts => Set<DepositReceipt>();

    public DbSet<ChainCursor> Cursors => Set<ChainCursor>();

    public DbSet<PayoutRequest> PayoutRequests => Set<PayoutRequest>();

    public DbSet<PayoutBatch> PayoutBatches => Set<PayoutBatch>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
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

/// <summary>For <c>dotnet ef migrations add</c> only.</summary>
internal sealed class ChainDbContextDesignFactory : IDesignTimeDbContextFactory<ChainDbContext>
{
    public ChainDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<ChainDbContext>()
            .UseSqlite("Data Source=design.db", o => o.MigrationsHistoryTable(ChainDbContext.MigrationsHistoryTable))
            .Options);
}
