using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using StackExchange.Redis;

namespace Cocoon.Testing;

/// <summary>
/// A real redis-server on a free loopback port, with its data in a temp folder; killed and deleted on dispose.
/// Use one per test class (xunit IClassFixture) and a unique key prefix per test so tests run in parallel.
/// </summary>
public sealed class RedisServer : IAsyncDisposable, IDisposable
{
    private readonly TempDir _dir = new("cocoon-redis");
    private Process? _process;

    public RedisServer()
        : this(appendOnly: false)
    {
    }

    public RedisServer(bool appendOnly)
        : this(appendOnly, password: null)
    {
    }

    /// <param name="password">When set, ACLs are on: the default user needs this password (requirepass), and
    /// users made with ACL SETUSER are the only other way in.</param>
    public RedisServer(bool appendOnly, string? password)
        : this(appendOnly, password, tls: false)
    {
    }

    /// <param name="tls">Also listen with TLS on <see cref="TlsPort"/>, with a CA and server certificate made for this
    /// server (<see cref="Certificates"/>); the plain port stays for the tests' own administrative connection.</param>
    public RedisServer(bool appendOnly, string? password, bool tls)
    {
        AppendOnly = appendOnly;
        Password = password;
        Port = FreePort();
        if (tls)
        {
            TlsPort = FreePort();
            Certificates = TestCertificates.Create(_dir.Path);
        }

        Start();
    }

    /// <summary>The TLS port, when started with tls.</summary>
    public int? TlsPort { get; }

    /// <summary>The CA and server certificate, when started with tls.</summary>
    public TestCertificates? Certificates { get; }

    /// <summary>rediss://127.0.0.1:{TlsPort}, when started with tls.</summary>
    public string TlsEndpoint => TlsPort is { } p ? $"rediss://127.0.0.1:{p}" : throw new InvalidOperationException("this server was started without TLS");

    public int Port { get; }

    public bool AppendOnly { get; }

    public string DataDir => _dir.Path;

    public string Endpoint => $"127.0.0.1:{Port}";

    /// <summary>The default user's password when ACLs are on; null otherwise.</summary>
    public string? Password { get; }

    /// <summary>The endpoint with the default user's password (what a gateway's COCOON_REDIS holds with ACLs on).</summary>
    public string AdminEndpoint => Password is null ? Endpoint : $"{Endpoint},password={Password}";

    public ConnectionMultiplexer Connect() =>
        ConnectionMultiplexer.Connect(new ConfigurationOptions
        {
            EndPoints = { Endpoint },
            AbortOnConnectFail = false,
            ConnectRetry = 10,
            AllowAdmin = true,
            Password = Password,
        });

    /// <summary>A connection as an ACL user, configured as a joined worker's would be (allowAdmin: as a hostile client's could be).</summary>
    public ConnectionMultiplexer ConnectAs(string user, string password, bool allowAdmin = false) =>
        ConnectionMultiplexer.Connect(new ConfigurationOptions
        {
            EndPoints = { Endpoint },
            AbortOnConnectFail = false,
            ConnectRetry = 3,
            User = user,
            Password = password,
            AllowAdmin = allowAdmin,
            TieBreaker = string.Empty,
            ConfigurationChannel = string.Empty,
        });

    /// <summary>Stops the server abruptly (SIGKILL), as a crash would.</summary>
    public void Kill()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }
    }

    /// <summary>Starts the server again on the same port and data folder (after Kill).</summary>
    public void Restart()
    {
        Kill();
        Start();
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>
    /// The first of <paramref name="count"/> consecutive loopback ports that were all free together (for `up
    /// --gateways N`, which listens on its port and the next N-1): checking only the first left the next one to chance.
    /// </summary>
    public static int FreePorts(int count)
    {
        for (var attempt = 0; ; attempt++)
        {
            var first = FreePort();
            var listeners = new List<TcpListener>();
            try
            {
                for (var i = 1; i < count; i++)
                {
                    var listener = new TcpListener(IPAddress.Loopback, first + i);
                    listener.Start();
                    listeners.Add(listener);
                }

                return first;
            }
            catch (SocketException) when (attempt < 50)
            {
                // One of the next ports is taken: try another first port.
            }
            finally
            {
                foreach (var listener in listeners)
                {
                    listener.Stop();
                    listener.Dispose();
                }
            }
        }
    }

    private void Start()
    {
        var exe = FindRedisServer();
        var psi = new ProcessStartInfo(exe)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = _dir.Path,
        };
        foreach (var arg in new[]
                 {
                     "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                     "--bind", "127.0.0.1",
                     "--dir", _dir.Path,
                     "--save", string.Empty,
                     "--appendonly", AppendOnly ? "yes" : "no",
                     "--appendfsync", "always",
                     "--daemonize", "no",
                 }.Concat(Password is null ? [] : new[] { "--requirepass", Password })
                  .Concat(TlsPort is not { } tlsPort ? [] : new[]
                  {
                      "--tls-port", tlsPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
                      "--tls-cert-file", Certificates!.CertFile,
                      "--tls-key-file", Certificates.KeyFile,
                      "--tls-ca-cert-file", Certificates.CaFile,
                      // Clients authenticate with their ACL user and password, not with a client certificate.
                      "--tls-auth-clients", "no",
                  }))
        {
            psi.ArgumentList.Add(arg);
        }

        _process = Process.Start(psi) ?? throw new InvalidOperationException("redis-server did not start");
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                using var client = new TcpClient();
                client.Connect(IPAddress.Loopback, Port);
                using var stream = client.GetStream();
                stream.Write("PING\r\n"u8);
                var buf = new byte[64];
                var n = stream.Read(buf);
                // With a password, an unauthenticated PING answers -NOAUTH: the server is up all the same.
                if (n > 0 && (buf[0] == (byte)'+' || System.Text.Encoding.ASCII.GetString(buf, 0, n).StartsWith("-NOAUTH", StringComparison.Ordinal)))
                {
                    return;
                }
            }
            catch (SocketException)
            {
            }
            catch (IOException)
            {
            }

            if (_process.HasExited)
            {
                throw new InvalidOperationException($"redis-server exited with code {_process.ExitCode}");
            }

            Thread.Sleep(20);
        }

        throw new TimeoutException($"redis-server did not answer on port {Port}");
    }

    private static string FindRedisServer()
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':').Append("/usr/bin").Append("/usr/sbin"))
        {
            var candidate = Path.Combine(dir, "redis-server");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException("redis-server is not installed: run ./cocoon test, which installs it.");
    }

    public void Dispose()
    {
        Kill();
        _process?.Dispose();
        _dir.Dispose();
    }

    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }
}
