using System.ComponentModel.DataAnnotations;
using Cocoon.Network.Hosting;

namespace Cocoon.Network.Transport;

/// <summary>Configuration section "Redis".</summary>
public sealed class RedisOptions
{
    public const string Section = "Redis";

    /// <summary>host:port (or any StackExchange.Redis configuration string; a rediss:// prefix means TLS). Env COCOON_REDIS.</summary>
    [Required(ErrorMessage = "Redis:Endpoint is empty; set COCOON_REDIS=host:port (default " + CocoonEnvironment.DefaultRedis + ").")]
    public string Endpoint { get; set; } = CocoonEnvironment.DefaultRedis;

    /// <summary>Prefix of every key and channel, so several networks (or parallel tests) share one server.</summary>
    [Required(ErrorMessage = "Redis:Prefix is empty; use e.g. 'cocoon:'.")]
    [RegularExpression(@"^[A-Za-z0-9_.:\-]{1,64}$", ErrorMessage = "Redis:Prefix may hold only letters, digits and _.:- (at most 64).")]
    public string Prefix { get; set; } = "cocoon:";

    /// <summary>
    /// PEM file of the CA that signed the Redis server's certificate: TLS on, and only a certificate chaining to this CA
    /// (and naming the host) is accepted. Empty: TLS only with rediss:// and then against the system's roots. Env COCOON_REDIS_CA.
    /// </summary>
    public string? TlsCaFile { get; set; }
}
