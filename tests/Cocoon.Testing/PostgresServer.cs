using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace Cocoon.Testing;

/// <summary>
/// A real throw-away PostgreSQL server for the ledger's tests and benchmark: Debian's initdb and postgres (the PATH
/// first, then /usr/lib/postgresql/&lt;version&gt;/bin, newest first) on a free loopback port in a temp folder, with
/// fsync off (what is measured and tested is the ledger's path, not this disk). PostgreSQL refuses to run as root, so
/// as root it runs as the postgres user. Killed and deleted on dispose.
/// </summary>
public sealed class PostgresServer : IAsyncDisposable
{
    private readonly TempDir _dir = new("cocoon-pg");
    private Process? _process;

    private PostgresServer()
    {
    }

    /// <summary>Null when PostgreSQL is installed (and can be run here); otherwise why not, with the fix.</summary>
    public static string? Unavailable { get; } = FindProblem();

    public int Port { get; private set; }

    public string DataDir => Path.Combine(_dir.Path, "data");

    public string ConnectionString(string database = "postgres") => string.Create(CultureInfo.InvariantCulture,
        $"Host=127.0.0.1;Port={Port};Username=cocoon;Database={database};Timeout=30;Command Timeout=120;Maximum Pool Size=64");

    public static async Task<PostgresServer> StartAsync(CancellationToken cancellationToken)
    {
        if (Unavailable is { } reason)
        {
            throw new InvalidOperationException(reason);
        }

        var server = new PostgresServer();
        try
        {
            await server.StartCoreAsync(cancellationToken).ConfigureAwait(false);
            return server;
        }
        catch
        {
            await server.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>A fresh, empty database (one per test); its connection string.</summary>
    public async Task<string> CreateDatabaseAsync(CancellationToken cancellationToken)
    {
        var name = "t" + Guid.NewGuid().ToString("N");
        await using var connection = new NpgsqlConnection(ConnectionString());
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = connection.CreateCommand();
#pragma warning disable CA2100 // a generated name, not input
        command.CommandText = $"CREATE DATABASE {name}";
#pragma warning restore CA2100
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        return ConnectionString(name);
    }

    /// <summary>User plus system CPU seconds of the server and every backend it forked (from /proc), for "where the time goes".</summary>
    public double CpuSeconds()
    {
        var pidFile = Path.Combine(DataDir, "postmaster.pid");
        int postmaster;
        try
        {
            if (!int.TryParse(File.ReadLines(pidFile).First(), CultureInfo.InvariantCulture, out postmaster))
            {
                return 0;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return 0;
        }

        long ticks = 0;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            try
            {
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                var parent = int.Parse(fields[1], CultureInfo.InvariantCulture);
                if (pid == postmaster || parent == postmaster)
                {
                    // utime and stime (fields 14 and 15 of stat; 12 and 13 after the name) plus the exited children's.
                    ticks += long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)
                        + long.Parse(fields[13], CultureInfo.InvariantCulture) + long.Parse(fields[14], CultureInfo.InvariantCulture);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
            {
                // The process ended while we looked.
            }
        }

        return ticks / 100.0; // USER_HZ
    }

    public ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        if (_process is { HasExited: false })
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(10_000);
        }

        _process?.Dispose();
        _dir.Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>The full path of a tool: the PATH first, then the given folders in order.</summary>
    public static string? Find(string tool, IEnumerable<string> extraDirectories) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Concat(extraDirectories)
            .Select(dir => Path.Combine(dir, tool))
            .FirstOrDefault(File.Exists);

    /// <summary>Debian's layout: /usr/lib/postgresql/&lt;version&gt;/bin, the newest version first.</summary>
    public static IEnumerable<string> PostgresBinDirectories(string root = "/usr/lib/postgresql") =>
        !Directory.Exists(root)
            ? []
            : Directory.GetDirectories(root)
                .Select(dir => (Dir: dir, Version: decimal.TryParse(Path.GetFileName(dir), NumberStyles.Number, CultureInfo.InvariantCulture, out var v) ? v : -1))
                .OrderByDescending(d => d.Version)
                .Select(d => Path.Combine(d.Dir, "bin"));

    private async Task StartCoreAsync(CancellationToken cancellationToken)
    {
        if (IsRoot)
        {
            await RunAsync("chown", ["-R", "postgres", _dir.Path], asPostgres: false, cancellationToken).ConfigureAwait(false);
        }

        await RunAsync(Tool("initdb"), ["-D", DataDir, "-U", "cocoon", "--auth=trust", "-E", "UTF8", "--no-sync"], asPostgres: true, cancellationToken).ConfigureAwait(false);
        Port = FreePort();
        _process = Process.Start(Start(Tool("postgres"),
            ["-D", DataDir, "-p", Port.ToString(CultureInfo.InvariantCulture), "-k", _dir.Path,
             "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=200"], asPostgres: true))!;
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(60));
        while (true)
        {
            try
            {
                await using var connection = new NpgsqlConnection(ConnectionString());
                await connection.OpenAsync(timeout.Token).ConfigureAwait(false);
                return;
            }
            catch (NpgsqlException) when (!timeout.IsCancellationRequested && !_process.HasExited)
            {
                await Task.Delay(100, timeout.Token).ConfigureAwait(false);
            }
        }
    }

    private static bool IsRoot => Environment.UserName == "root";

    private static string? FindProblem()
    {
        foreach (var tool in new[] { "initdb", "postgres" })
        {
            if (Find(tool, PostgresBinDirectories()) is null)
            {
                return $"PostgreSQL is not installed ({tool} is neither on the PATH nor in /usr/lib/postgresql/<version>/bin): apt-get install postgresql";
            }
        }

        return IsRoot && Find("runuser", []) is null ? "running as root without runuser: PostgreSQL cannot be started" : null;
    }

    private static string Tool(string tool) =>
        Find(tool, PostgresBinDirectories()) ?? throw new InvalidOperationException($"{tool} not found");

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

    private static async Task RunAsync(string tool, string[] args, bool asPostgres, CancellationToken cancellationToken)
    {
        using var process = Process.Start(Start(tool, args, asPostgres))!;
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        _ = process.StandardOutput.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{tool} failed ({process.ExitCode}): {await stderr.ConfigureAwait(false)}");
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
