using Cocoon.Ledger.Data;
using Cocoon.Testing;

namespace Cocoon.Ledger.Tests.Accounts;

/// <summary>The ledger file holds every balance: it is created readable and writable by its owner only, like the key files.</summary>
public sealed class LedgerFileModeTests
{
    [Fact]
    public async Task A_sqlite_ledger_and_its_wal_are_mode_600_once_opened()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        using var dir = new TempDir("cocoon-ledger-mode");
        var file = Path.Combine(dir.Path, "nested", "ledger.db");
        var database = new LedgerDatabase($"Data Source={file}");
        await database.MigrateAsync(CancellationToken.None);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        foreach (var sidecar in new[] { file + "-wal", file + "-shm" }.Where(File.Exists))
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(sidecar));
        }
    }
}
