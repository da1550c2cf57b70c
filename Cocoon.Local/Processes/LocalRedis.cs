using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Cocoon.Local.Up;

namespace Cocoon.Local.Processes;

/// <summary>
/// The Redis <c>up</c> uses: the one already answering at COCOON_REDIS, else a redis-server it starts and owns. The
/// one it owns is supervised like a worker once the stack is ready: when it exits it is started again with the same
/// data folder and AOF, so the queues and keys come back and the gateways and workers reconnect (their
/// <c>cocoon-redis</c> pipeline retries) instead of the whole stack stopping.
/// </summary>
internal static class LocalRedis
{
    /// <summary>Starts redis-server (AOF under the data folder) unless one answers; returns a line for the banner and the process when up started it.</summary>
    public static async Task<(string Note, SupervisedProcess? Redis)> EnsureAsync(UpSettings settings, TextWriter output, CancellationToken cancellationToken)
    {
        if (await AnswersAsync(settings.RedisHost, settings.RedisPort, cancellationToken))
        {
            return ($"Redis: using the one already answering at {settings.RedisEndpoint}", null);
        }

        if (!IsLoopback(settings.RedisHost))
        {
            throw new UpSettingsException($"Redis does not answer at {settings.RedisEndpoint} (COCOON_REDIS). Start it there, or unset COCOON_REDIS to let up start a local one.");
        }

        var dir = Path.Combine(settings.DataDir, "redis");
        // The AOF holds the API keys and the network's queues: owner-only, like the key files.
        // Redis has no file-mode setting, so the folder it writes in is 700.
        Directory.CreateDirectory(dir);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        var exe = Executables.FindOnPath("redis-server")
            ?? throw new UpSettingsException("redis-server is not installed: ./cocoon up installs it with apt; or install the redis-server package.");
        string[] arguments =
            ["--port", settings.RedisPort.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--dir", dir,
             "--appendonly", "yes", "--appendfsync", "everysec", "--save", string.Empty, "--daemonize", "no", "--loglevel", "warning"];
        var redis = new SupervisedProcess("redis", () => ChildProcess.Start("redis", exe, arguments, new Dictionary<string, string?>(), output), output);
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(20);
            while (!await AnswersAsync(settings.RedisHost, settings.RedisPort, cancellationToken))
            {
                if (redis.Current.HasExited)
                {
                    throw new UpSettingsException($"redis-server exited with code {redis.Current.ExitCode}; is port {settings.RedisPort} taken? Set COCOON_REDIS to another host:port.");
                }

                if (DateTime.UtcNow > deadline)
                {
                    throw new UpSettingsException($"redis-server did not answer on {settings.RedisEndpoint} within 20 s.");
                }

                await Task.Delay(50, cancellationToken);
            }
        }
        catch
        {
            await redis.DisposeAsync();
            throw;
        }

        return ($"Redis: started at {settings.RedisEndpoint} (data and AOF under {dir})", redis);
    }

    public static async Task<bool> AnswersAsync(string host, int port, CancellationToken cancellationToken)
    {
        try
        {
            using var client = new TcpClient();
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(1));
            await client.ConnectAsync(host, port, timeout.Token);
            var stream = client.GetStream();
            await stream.WriteAsync("PING\r\n"u8.ToArray(), timeout.Token);
            var buffer = new byte[64];
            var n = await stream.ReadAsync(buffer, timeout.Token);
            // "-NOAUTH" or "-LOADING" still means a Redis is there; only silence means none.
            return n > 0 && (buffer[0] == (byte)'+' || buffer[0] == (byte)'-');
        }
        catch (Exception ex) when (ex is SocketException or IOException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    private static bool IsLoopback(string host) =>
        host is "localhost" || (IPAddress.TryParse(host, out var ip) && IPAddress.IsLoopback(ip));
}
