using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Cocoon.Testing;
using Npgsql;

namespace Cocoon.Ledger.Tests.Postgres;

/// <summary>
/// A real throw-away PostgreSQL server (initdb + postgres from the PATH, or from Debian's
/// /usr/lib/postgresql/&lt;version&gt;/bin, newest first) on a free loopback port, in a temp folder,
/// killed and deleted on dispose. PostgreSQL refuses to run as root, so as root it runs as the postgres user.
/// </summary>
public sealed class PostgresServer : IAsyncLifetime
{
    private TempDir? _dir;
    private Process? _process;

    public static string? Unavailable { get; } = FindProblem();

    public int Port { get; private set; }

    public string ConnectionString(string database) =>
        $"Host=127.0.0.1;Port={Port};Username=cocoon;Database={database};Timeout=30;Command Timeout=60";

    /// <summary>A fresh, empty database for one test.</summary>
    public async Task<string> CreateDatabaseAsync(CancellationToken cancellationToken)
    {
        var name = "t" + Guid.NewGuid().ToString("N");
        await using var connection = new NpgsqlConnection(ConnectionString("postgres"));
        await connection.OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"CREATE DATABASE {name}";
        await command.ExecuteNonQueryAsync(cancellationToken);
        return ConnectionString(name);
    }

    public async Task InitializeAsync()
    {
        if (Unavailable is not null)
        {
            return;
        }

        _dir = new TempDir("cocoon-pg");
        var data = Path.Combine(_dir.Path, "data");
        if (IsRoot)
        {
            await RunAsync("chown", ["-R", "postgres", _dir.Path]);
        }

        await RunAsync(Tool("initdb"), ["-D", data, "-U", "cocoon", "--auth=trust", "-E", "UTF8", "--no-sync"], asPostgres: true);
        Port = FreePort();
        _process = Process.Start(Start(Tool("postgres"),
            ["-D", data, "-p", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-k", _dir.Path,
             "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=200"], asPostgres: true))!;

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (true)
        {
            try
            {
                await using var connection = new NpgsqlConnection(ConnectionString("postgres"));
                await connection.OpenAsync(timeout.Token);
                return;
            }
            catch (NpgsqlException) when (!timeout.IsCancellationRequested && !_process.HasExited)
            {
                await Task.Delay(100, timeout.Token);
            }
        }
    }

    public Task DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        if (_process is { HasExited: false })
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(10_000);
        }

        _process?.Dispose();
        _dir?.Dispose();
        return Task.CompletedTask;
    }

    private static bool IsRoot => Environment.UserName == "root";

    private static string? FindProblem()
    {
        foreach (var tool in new[] { "initdb", "postgres" })
        {
            if (Find(tool, PostgresBinDirectories()) is null)
            {
                return $"PostgreSQL is not installed ({tool} is neither on the PATH nor in /usr/lib/postgresql/<version>/bin); apt-get install postgresql to run these tests";
            }
        }

        return IsRoot && Find("runuser", []) is null ? "running as root without runuser: PostgreSQL cannot be started" : null;
    }

    private static string Tool(string tool) =>
        Find(tool, PostgresBinDirectories()) ?? throw new InvalidOperationException($"{tool} not found");

    /// <summary>The full path of a tool: the PATH first, then the given folders in order.</summary>
    internal static string? Find(string tool, IEnumerable<string> extraDirectories) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Concat(extraDirectories)
            .Select(dir => Path.Combine(dir, tool))
            .FirstOrDefault(File.Exists);

    /// <summary>Debian's layout: /usr/lib/postgresql/&lt;version&gt;/bin, the newest version first.</summary>
    internal static IEnumerable<string> PostgresBinDirectories(string root = "/usr/lib/postgresql") =>
        !Directory.Exists(root)
            ? []
            : Directory.GetDirectories(root)
                .Select(dir => (Dir: dir, Version: decimal.TryParse(Path.GetFileName(dir), System.Globalization.NumberStyles.Number, System.Globalization.CultureInfo.InvariantCulture, out var v) ? v : -1))
                .OrderByDescending(d => d.Version)
                .Select(d => Path.Combine(d.Dir, "bin"));

    private static ProcessStartInfo Start(string tool, string[] args, bool asPostgres)
    {
        var info = new ProcessStartInfo(asPostgres && IsRoot ? "runuser" : tool)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (asPostgres && IsRoot)
        {
            foreach (var a in new[] { "-u", "postgres", "--", tool })
            {
                info.ArgumentList.Add(a);
            }
        }

        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        return info;
    }

    private static async Task RunAsync(string tool, string[] args, bool asPostgres = false)
    {
        using var process = Process.Start(Start(tool, args, asPostgres))!;
        var stderr = process.StandardError.ReadToEndAsync();
        _ = process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{tool} failed ({process.ExitCode}): {await stderr}");
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>A test that needs PostgreSQL; skipped with the reason when it is not installed.</summary>
public sealed class PostgresFactAttribute : FactAttribute
{
    public PostgresFactAttribute()
    {
        if (PostgresServer.Unavailable is { } reason)
        {
            Skip = reason;
        }
    }
}
