using System.ComponentModel.DataAnnotations;

namespace Cocoon.Bot.Join;

/// <summary>Configuration section "Gateway:Join": what the join endpoint tells workers, and when it cleans up after them.</summary>
public sealed class JoinOptions
{
    public const string Section = "Gateway:Join";

    /// <summary>host:port of Redis as workers on other machines reach it; empty = the host:port of Redis:Endpoint.</summary>
    public string? RedisEndpoint { get; set; }

    /// <summary>
    /// Tell workers to connect with TLS (the server must listen with tls-port and a certificate). On by itself when the
    /// gateway's own Redis connection uses TLS (rediss:// or Redis:TlsCaFile) and RedisEndpoint is empty.
    /// </summary>
    public bool RedisTls { get; set; }

    /// <summary>
    /// PEM file of the CA that signed the Redis server's certificate, handed to workers so they trust that CA alone;
    /// empty = Redis:TlsCaFile (the gateway's own), and with neither the workers use their system's roots.
    /// </summary>
    public string? RedisTlsCaFile { get; set; }

    /// <summary>A joined worker whose registry entry has been gone this long is cleaned up (Redis user and join record).</summary>
    [Range(typeof(TimeSpan), "00:00:01", "7.00:00:00", ErrorMessage = "Gateway:Join:CleanupAfter must be between 1 second and 7 days.")]
    public TimeSpan CleanupAfter { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>How often the cleanup looks.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "01:00:00", ErrorMessage = "Gateway:Join:SweepInterval must be between 100 ms and 1 hour.")]
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromMinutes(1);
}
