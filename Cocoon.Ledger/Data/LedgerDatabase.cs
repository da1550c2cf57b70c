using System.Data.Common;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Npgsql;

namespace Cocoon.Ledger.Data;

public enum LedgerProvider
{
    Sqlite,
    Postgres,
}

/// <summary>
/// Where the ledger lives: builds contexts and raw connections for one connection string, and applies the
/// checked-in migrations once per process.
/// </summary>
public sealed class LedgerDatabase
{
    private readonly DbContextOptions _options;
    private readonly Lock _migrateLock = new();
    private Task? _migrated;

    public LedgerDatabase(string connectionString, LedgerProvider? provider = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        Provider = provider ?? DetectProvider(connectionString);
        if (Provider == LedgerProvider.Sqlite)
        {
            var builder = new SqliteConnectionStringBuilder(connectionString);
            if (builder.DataSource is { Length: > 0 } file && file != ":memory:" && builder.Mode != SqliteOpenMode.Memory)
            {
                builder.DataSource = Path.GetFullPath(file);
                SqliteFile = builder.DataSource;
            }

            // Microsoft.Data.Sqlite retries SQLITE_BUSY until the command timeout: that is our busy timeout.
            if (builder.DefaultTimeout == 30)
            {
                builder.DefaultTimeout = 15;
            }

            ConnectionString = builder.ToString();
            var options = new DbContextOptionsBuilder<SqliteLedgerDbContext>();
            options.UseSqlite(ConnectionString, o => o.MigrationsHistoryTable(LedgerDbContext.MigrationsHistoryTable));
            options.AddInterceptors(SqlitePragmas.Instance);
            _options = options.Options;
        }
        else
        {
            ConnectionString = connectionString;
            var options = new DbContextOptionsBuilder<PostgresLedgerDbContext>();
            options.UseNpgsql(ConnectionString, o => o.MigrationsHistoryTable(LedgerDbContext.MigrationsHistoryTable));
            _options = options.Options;
        }
    }

    public LedgerProvider Provider { get; }

    public string ConnectionString { get; }

    /// <summary>The absolute SQLite file, when the ledger is a SQLite file.</summary>
    public string? SqliteFile { get; }

    /// <summary>
    /// PostgreSQL when the connection string names a host (Host=..., Server=...) or is a postgres:// URI;
    /// otherwise a SQLite file (Data Source=...).
    /// </summary>
    public static LedgerProvider DetectProvider(string connectionString)
    {
        ArgumentNullException.ThrowIfNull(connectionString);
        var text = connectionString.Trim();
        if (text.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase)
            || text.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase))
        {
            return LedgerProvider.Postgres;
        }

        foreach (var part in text.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var key = part.Split('=', 2)[0].Trim();
            if (key.Equals("Host", StringComparison.OrdinalIgnoreCase) || key.Equals("Server", StringComparison.OrdinalIgnoreCase))
            {
                return LedgerProvider.Postgres;
            }
        }

        return LedgerProvider.Sqlite;
    }

    /// <summary>Default connection string: ledger.db in the data folder.</summary>
    public static string DefaultConnectionString(string dataDir) =>
        new SqliteConnectionStringBuilder { DataSource = Path.Combine(dataDir, "ledger.db") }.ToString();

    public LedgerDbContext CreateContext() => Provider == LedgerProvider.Sqlite
        ? new SqliteLedgerDbContext((DbContextOptions<SqliteLedgerDbContext>)_options)
        : new PostgresLedgerDbContext((DbContextOptions<PostgresLedgerDbContext>)_options);

    /// <summary>Applies the migrations once per process; later callers await the same task.</summary>
    public Task MigrateAsync(CancellationToken cancellationToken)
    {
        lock (_migrateLock)
        {
            if (_migrated is null || _migrated.IsFaulted || _migrated.IsCanceled)
            {
                _migrated = MigrateCoreAsync(cancellationToken);
            }

            return _migrated;
        }
    }

    private async Task MigrateCoreAsync(CancellationToken cancellationToken)
    {
        if (SqliteFile is not null)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(SqliteFile)!);
        }

        await using var db = CreateContext();
        await db.Database.MigrateAsync(cancellationToken);
        if (SqliteFile is not null)
        {
            RestrictToOwner(SqliteFile);
        }
    }

    /// <summary>
    /// The ledger holds every balance: like the key files it is readable and writable by its owner only (mode 600),
    /// with its -wal and -shm files. Set once SQLite has created them: a pre-created empty file is refused by SQLite
    /// as read-only during the first migration, so the restriction follows creation within the same start-up.
    /// </summary>
    private static void RestrictToOwner(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        foreach (var file in new[] { path, path + "-wal", path + "-shm" }.Where(File.Exists))
        {
            try
            {
                File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }
            catch (UnauthorizedAccessException)
            {
                // Someone else's file (a shared deployment set its own modes): leave it as its owner made it.
            }
        }
    }

    /// <summary>An open raw connection (the writer's hot path and the checker use SQL directly).</summary>
    public Task<DbConnection> OpenConnectionAsync(CancellationToken cancellationToken) => OpenConnectionAsync(writer: false, cancellationToken);

    /// <summary>
    /// The writer's connection also gets a large page cache and memory-mapped reads: it touches every index on
    /// every batch, and SQLite's default 2 MB cache would send it to the file for pages it just wrote.
    /// </summary>
    internal async Task<DbConnection> OpenConnectionAsync(bool writer, CancellationToken cancellationToken)
    {
        DbConnection connection = Provider == LedgerProvider.Sqlite
            ? new SqliteConnection(ConnectionString)
            : new NpgsqlConnection(ConnectionString);
        try
        {
            await connection.OpenAsync(cancellationToken);
            if (connection is SqliteConnection sqlite)
            {
                SqlitePragmas.Apply(sqlite);
                if (writer)
                {
                    using var command = sqlite.CreateCommand();
                    command.CommandText = "PRAGMA cache_size=-65536; PRAGMA mmap_size=268435456;";
                    command.ExecuteNonQuery();
                }
            }

            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>WAL so that readers never block the writer; NORMAL sync is durable across process crashes in WAL mode.</summary>
    private sealed class SqlitePragmas : DbConnectionInterceptor
    {
        public static readonly SqlitePragmas Instance = new();

        public static void Apply(SqliteConnection connection)
        {
            using var command = connection.CreateCommand();
            command.CommandText = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=15000; PRAGMA foreign_keys=ON;";
            command.ExecuteNonQuery();
        }

        public override void ConnectionOpened(DbConnection connection, ConnectionEndEventData eventData)
        {
            if (connection is SqliteConnection sqlite)
            {
                Apply(sqlite);
            }
        }

        public override Task ConnectionOpenedAsync(DbConnection connection, ConnectionEndEventData eventData, CancellationToken cancellationToken = default)
        {
            ConnectionOpened(connection, eventData);
            return Task.CompletedTask;
        }
    }
}
