using Cocoon.Ledger.Receipts;
using Microsoft.EntityFrameworkCore;

namespace Cocoon.Ledger.Data;

/// <summary>
/// The ledger's tables. One subclass per provider so that each keeps its own checked-in migrations
/// (SQLite and PostgreSQL column types differ); the model itself is shared.
/// </summary>
public abstract class LedgerDbContext(DbContextOptions options) : DbContext(options)
{
    /// <summary>Our own history table: the chain's context keeps its migrations in the same SQLite file.</summary>
    public const string MigrationsHistoryTable = "__LedgerMigrationsHistory";

    public DbSet<LedgerAccount> Accounts => Set<LedgerAccount>();

    public DbSet<JournalEntry> Entries => Set<JournalEntry>();

    public DbSet<Posting> Postings => Set<Posting>();

    public DbSet<HoldRecord> Holds => Set<HoldRecord>();

    public DbSet<ApiKeyRecord> ApiKeys => Set<ApiKeyRecord>();

    public DbSet<ProviderRecord> Providers => Set<ProviderRecord>();

    public DbSet<ReceiptRecord> Receipts => Set<ReceiptRecord>();

    public DbSet<ReceiptAnchor> ReceiptAnchors => Set<ReceiptAnchor>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        ArgumentNullException.ThrowIfNull(modelBuilder);

        modelBuilder.Entity<LedgerAccount>(a =>
        {
            a.ToTable(LedgerTables.Accounts);
            a.HasKey(x => x.Id);
            a.Property(x => x.Id).HasMaxLength(200);
        });

        modelBuilder.Entity<JournalEntry>(e =>
        {
            e.ToTable(LedgerTables.Entries);
            e.HasKey(x => x.Id);
            e.Property(x => x.IdempotencyKey).HasMaxLength(300);
            e.Property(x => x.Kind).HasMaxLength(40);
            e.Property(x => x.HoldId).HasMaxLength(40);
            e.HasIndex(x => x.IdempotencyKey).IsUnique();
            NoAutoincrement(e.Property(x => x.Id));
        });

        modelBuilder.Entity<Posting>(p =>
        {
            p.ToTable(LedgerTables.Postings);
            p.HasKey(x => x.Id);
            p.Property(x => x.AccountId).HasMaxLength(200);
            // No foreign key to the entry: every index and check on this hot table costs settlements per second,
            // and the checker proves that no posting lacks its entry.
            p.HasIndex(x => new { x.AccountId, x.EntryId });
            NoAutoincrement(p.Property(x => x.Id));
        });

        modelBuilder.Entity<HoldRecord>(h =>
        {
            h.ToTable(LedgerTables.Holds);
            h.HasKey(x => x.Id);
            h.Property(x => x.Id).HasMaxLength(40);
            h.Property(x => x.IdempotencyKey).HasMaxLength(300);
            h.Property(x => x.Payer).HasMaxLength(200);
            h.HasIndex(x => x.IdempotencyKey).IsUnique();
            // Only active holds are ever looked up by expiry; a partial index stays as small as they are few.
            h.HasIndex(x => x.ExpiresAtMs).HasFilter("\"State\" = 0").HasDatabaseName("IX_LedgerHolds_Active_ExpiresAtMs");
        });

        modelBuilder.Entity<ApiKeyRecord>(k =>
        {
            k.ToTable(LedgerTables.ApiKeys);
            k.HasKey(x => x.KeyId);
            k.Property(x => x.KeyId).HasMaxLength(64);
            k.Property(x => x.KeySha256).HasMaxLength(64);
            k.Property(x => x.Owner).HasMaxLength(200);
            k.HasIndex(x => x.KeySha256).IsUnique();
            k.HasIndex(x => x.Owner);
        });

        modelBuilder.Entity<ProviderRecord>(p =>
        {
            p.ToTable(LedgerTables.Providers);
            p.HasKey(x => x.ProviderId);
            p.Property(x => x.ProviderId).HasMaxLength(64);
            p.Property(x => x.Name).HasMaxLength(200);
            p.Property(x => x.PayoutAddress).HasMaxLength(100);
            p.Property(x => x.Contact).HasMaxLength(200);
            p.Property(x => x.TokenSha256).HasMaxLength(64);
            p.Property(x => x.ProviderKey).HasMaxLength(64);
            p.Property(x => x.RevokedProviderKeys).HasMaxLength(8000);
            p.HasIndex(x => x.TokenSha256).IsUnique();
            p.HasIndex(x => x.TelegramUserId);
        });

        modelBuilder.Entity<ReceiptRecord>(r =>
        {
            r.ToTable(LedgerTables.Receipts);
            r.HasKey(x => x.RequestId);
            r.Property(x => x.RequestId).HasMaxLength(200);
            r.Property(x => x.Payer).HasMaxLength(200);
            r.Property(x => x.WorkerId).HasMaxLength(200);
            // Only receipts still waiting for an anchor are looked up in order; they are few.
            r.HasIndex(x => x.CreatedAtMs).HasFilter("\"AnchorId\" IS NULL").HasDatabaseName("IX_Receipts_Unanchored_CreatedAtMs");
        });

        modelBuilder.Entity<ReceiptAnchor>(a =>
        {
            a.ToTable(LedgerTables.ReceiptAnchors);
            a.HasKey(x => x.Id);
            a.Property(x => x.RootHex).HasMaxLength(64);
            a.Property(x => x.MessageHash).HasMaxLength(64);
            a.Property(x => x.TransactionHash).HasMaxLength(64);
        });
    }

    /// <summary>
    /// SQLite's AUTOINCREMENT updates sqlite_sequence on every insert; it only matters when rows are deleted,
    /// and ledger rows never are, so a plain rowid gives the same increasing ids for less work.
    /// </summary>
    private void NoAutoincrement<T>(Microsoft.EntityFrameworkCore.Metadata.Builders.PropertyBuilder<T> property)
    {
        if (Database.IsSqlite())
        {
            // An INTEGER PRIMARY KEY is the rowid: SQLite numbers rows the writer inserts without an id.
            property.ValueGeneratedNever();
        }
    }
}

/// <summary>Table names, shared by the EF model and the hand-written SQL of the hot path and the checker.</summary>
public static class LedgerTables
{
    public const string Accounts = "LedgerAccounts";
    public const string Entries = "LedgerEntries";
    public const string Postings = "LedgerPostings";
    public const string Holds = "LedgerHolds";
    public const string ApiKeys = "ApiKeys";
    public const string Providers = "Providers";
    public const string Receipts = "Receipts";
    public const string ReceiptAnchors = "ReceiptAnchors";
}

public sealed class SqliteLedgerDbContext(DbContextOptions<SqliteLedgerDbContext> options) : LedgerDbContext(options);

public sealed class PostgresLedgerDbContext(DbContextOptions<PostgresLedgerDbContext> options) : LedgerDbContext(options);
