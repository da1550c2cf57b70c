using Cocoon.Worker.Attestation;

namespace Cocoon.Testing;

/// <summary>
/// The settings of an in-process stack (gateway and workers on one machine, one redis-server, one data folder), written
/// once for the Bot test fixtures and the benchmarks. It lives here rather than in Cocoon.Testing because it reads the
/// simulated platform key through Cocoon.Worker, which Cocoon.Testing does not reference; Cocoon.Bench compiles this
/// same file (a linked item). Fixtures add their own keys after these (the last value written wins).
/// </summary>
internal static class LocalStackSettings
{
    /// <summary>The test fixtures' registry refresh: short, so tests do not wait for a new worker to be seen.</summary>
    public const string TestRegistryRefresh = "00:00:00.100";

    /// <summary>The benchmarks' registry refresh: closer to a gateway's own, so the refresh costs what it would.</summary>
    public const string BenchRegistryRefresh = "00:00:00.250";

    /// <summary>
    /// Gateway settings that trust this machine's simulated worker: simulated attestation allowed, the platform key
    /// that the workers sharing <paramref name="dataDir"/> sign with (dataDir/tee, created if absent), any measurement
    /// and the local provider accepted.
    /// </summary>
    public static Dictionary<string, string?> TrustLocalWorkers(string dataDir, string registryRefresh) => new()
    {
        ["Gateway:AllowSimulated"] = "true",
        ["Gateway:TrustedSimulatedPlatformKeys:0"] = Convert.ToHexStringLower(SimulatedTeeProvider.ReadPlatformPublicKey(Path.Combine(dataDir, "tee"))),
        ["Gateway:AcceptAnySimulatedMeasurement"] = "true",
        ["Gateway:AllowLocalProvider"] = "true",
        ["Gateway:RegistryRefresh"] = registryRefresh,
    };

    /// <summary>The test fixtures' gateway: <see cref="TrustLocalWorkers"/> at the test refresh, a 50 ms result poll, the key prefix.</summary>
    public static Dictionary<string, string?> TestGateway(string prefix, string dataDir) => With(TrustLocalWorkers(dataDir, TestRegistryRefresh), new Dictionary<string, string?>
    {
        ["Redis:Prefix"] = prefix,
        ["Gateway:ResultPoll"] = "00:00:00.050",
    });

    /// <summary>Where a worker finds Redis and its data folder.</summary>
    public static Dictionary<string, string?> Node(string redisEndpoint, string prefix, string dataDir) => new()
    {
        ["Redis:Endpoint"] = redisEndpoint,
        ["Redis:Prefix"] = prefix,
        ["Cocoon:DataDir"] = dataDir,
    };

    /// <summary>The test fixtures' worker: <see cref="Node"/> with heartbeats and job polls short enough for tests.</summary>
    public static Dictionary<string, string?> TestWorker(string redisEndpoint, string prefix, string dataDir) => With(Node(redisEndpoint, prefix, dataDir), new Dictionary<string, string?>
    {
        ["Worker:HeartbeatInterval"] = "00:00:00.200",
        ["Worker:HeartbeatTtl"] = "00:00:01",
        ["Worker:JobPoll"] = "00:00:00.050",
    });

    /// <summary>llama.cpp on one thread with the given number of parallel sequences.</summary>
    public static Dictionary<string, string?> Llama(int maxConcurrency) => new()
    {
        ["Llama:MaxConcurrency"] = maxConcurrency.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Llama:Threads"] = "1",
    };

    /// <summary>
    /// <see cref="Llama"/> plus one chunk per token, as the streaming tests count pieces (the 10 ms default is tested in
    /// the worker's tests).
    /// </summary>
    public static Dictionary<string, string?> LlamaChunkPerToken(int maxConcurrency) => With(Llama(maxConcurrency), new Dictionary<string, string?>
    {
        ["Llama:ChunkIntervalMs"] = "0",
    });

    /// <summary>Writes <paramref name="extra"/> over <paramref name="settings"/> (the extra value wins) and returns it.</summary>
    public static Dictionary<string, string?> With(this Dictionary<string, string?> settings, IEnumerable<KeyValuePair<string, string?>>? extra)
    {
        ArgumentNullException.ThrowIfNull(settings);
        foreach (var (key, value) in extra ?? [])
        {
            settings[key] = value;
        }

        return settings;
    }
}
