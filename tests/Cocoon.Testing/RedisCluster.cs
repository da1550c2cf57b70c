using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using StackExchange.Redis;

namespace Cocoon.Testing;

/// <summary>
/// A real Redis Cluster of three masters (no replicas) on free loopback ports, each node a redis-server with
/// cluster-enabled and its own folder, the slots spread by `redis-cli --cluster create`. With a password, every node
/// requires it for the default user (ACL users made later are per node). Killed and deleted on dispose.
/// </summary>
public sealed class RedisCluster : IAsyncDisposable, IDisposable
{
    private readonly TempDir _dir = new("cocoon-redis-cluster");
    private readonly List<Process> _nodes = [];

    public RedisCluster(string? password = null, int masters = 3)
    {
        Password = password;
        for (var i = 0; i < masters; i++)
        {
            Ports.Add(ClusterPort(Ports));
        }

        foreach (var port in Ports)
        {
            StartNode(port);
        }

        Create();
    }

    public List<int> Ports { get; } = [];

    public string? Password { get; }

    /// <summary>Every node, comma separated (the client learns the slots from any of them).</summary>
    public string Endpoint => string.Join(",", Ports.Select(p => "127.0.0.1:" + p.ToString(CultureInfo.InvariantCulture)));

    /// <summary>The endpoint with the default user's password (what a gateway's COCOON_REDIS holds).</summary>
    public string AdminEndpoint => Password is null ? Endpoint : $"{Endpoint},password={Password}";

    public ConnectionMultiplexer Connect() => ConnectionMultiplexer.Connect(AdminEndpoint + ",allowAdmin=true,abortConnect=false,connectRetry=10");

    /// <summary>A connection as an ACL user, configured as a joined worker's would be (allowAdmin: as a hostile client's could be).</summary>
    public ConnectionMultiplexer ConnectAs(string user, string password, bool allowAdmin = false)
    {
        var options = ConfigurationOptions.Parse(Endpoint);
        options.User = user;
        options.Password = password;
        options.AbortOnConnectFail = false;
        options.ConnectRetry = 3;
        options.AllowAdmin = allowAdmin;
        options.TieBreaker = string.Empty;
        options.ConfigurationChannel = string.Empty;
        return ConnectionMultiplexer.Connect(options);
    }

    /// <summary>A free port whose cluster bus port (port + 10000) is free too.</summary>
    private static int ClusterPort(IReadOnlyCollection<int> taken)
    {
        while (true)
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            var port = ((IPEndPoint)listener.LocalEndpoint).Port;
            if (port + 10000 > 65535 || taken.Contains(port) || taken.Contains(port + 10000) || taken.Contains(port - 10000))
            {
                continue;
            }

            try
            {
                using var bus = new TcpListener(IPAddress.Loopback, port + 10000);
                bus.Start();
                return port;
            }
            catch (SocketException)
            {
            }
        }
    }

    private void StartNode(int port)
    {
        var dir = Directory.CreateDirectory(Path.Combine(_dir.Path, port.ToString(CultureInfo.InvariantCulture))).FullName;
        var psi = new ProcessStartInfo("redis-server")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = dir,
        };
        foreach (var arg in new[]
                 {
                     "--port", port.ToString(CultureInfo.InvariantCulture),
                     "--bind", "127.0.0.1",
                     "--dir", dir,
                     "--save", string.Empty,
                     "--appendonly", "no",
                     "--cluster-enabled", "yes",
                     "--cluster-config-file", "nodes.conf",
                     "--cluster-node-timeout", "5000",
                     "--daemonize", "no",
                 }.Concat(Password is null ? [] : new[] { "--requirepass", Password, "--masterauth", Password }))
        {
            psi.ArgumentList.Add(arg);
        }

        var process = Process.Start(psi) ?? throw new InvalidOperationException("redis-server did not start");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _nodes.Add(process);
        WaitForPort(port, process);
    }

    private static void WaitForPort(int port, Process process)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                using var client = new TcpClient();
                client.Connect(IPAddress.Loopback, port);
                return;
            }
            catch (SocketException)
            {
            }

            if (process.HasExited)
            {
                throw new InvalidOperationException($"redis-server exited with code {process.ExitCode}");
            }

            Thread.Sleep(20);
        }

        throw new TimeoutException($"redis-server did not listen on port {port}");
    }

    /// <summary>Spreads the slots over the masters and waits until every node reports the cluster ok.</summary>
    private void Create()
    {
        var psi = new ProcessStartInfo("redis-cli") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (Password is not null)
        {
            psi.Environment["REDISCLI_AUTH"] = Password;
        }

        psi.ArgumentList.Add("--cluster");
        psi.ArgumentList.Add("create");
        foreach (var port in Ports)
        {
            psi.ArgumentList.Add("127.0.0.1:" + port.ToString(CultureInfo.InvariantCulture));
        }

        psi.ArgumentList.Add("--cluster-replicas");
        psi.ArgumentList.Add("0");
        psi.ArgumentList.Add("--cluster-yes");
        using (var create = Process.Start(psi) ?? throw new InvalidOperationException("redis-cli did not start"))
        {
            var output = create.StandardOutput.ReadToEndAsync();
            var errors = create.StandardError.ReadToEndAsync();
            create.WaitForExit();
            if (create.ExitCode != 0)
            {
                throw new InvalidOperationException($"redis-cli --cluster create failed ({create.ExitCode}): {output.Result} {errors.Result}");
            }
        }

        var deadline = DateTime.UtcNow.AddSeconds(60);
        using var admin = Connect();
        while (true)
        {
            var ok = Ports.All(port =>
            {
                try
                {
                    var info = (string?)admin.GetServer("127.0.0.1", port).Execute("CLUSTER", "INFO");
                    return info?.Contains("cluster_state:ok", StringComparison.Ordinal) == true;
                }
                catch (RedisException)
                {
                    return false;
                }
            });
            if (ok)
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("the Redis Cluster did not reach cluster_state:ok");
            }

            Thread.Sleep(100);
        }
    }

    public void Dispose()
    {
        foreach (var node in _nodes)
        {
            if (!node.HasExited)
            {
                node.Kill(entireProcessTree: true);
                node.WaitForExit();
            }

            node.Dispose();
        }

        _dir.Dispose();
    }

    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }
}
