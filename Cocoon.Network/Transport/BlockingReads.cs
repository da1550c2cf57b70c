using StackExchange.Redis;

namespace Cocoon.Network.Transport;

/// <summary>
/// A connection of its own for blocking stream reads (XREADGROUP/XREAD with BLOCK): a blocked command stalls every
/// command pipelined behind it, so it never goes on the shared multiplexer. Each process has one reader loop (the
/// worker's job stream, the gateway's result stream), so this is one more connection per process, not per pair of
/// processes. It replaces the earlier pub/sub nudge after every XADD plus a non-blocking read: that cost every
/// dispatch three PUBLISHes, their deliveries and an extra read, and a wake-up hop on each side.
/// </summary>
public sealed class BlockingReads(IConnectionMultiplexer connection) : IDisposable
{
    /// <summary>Kept well under the client's command timeout (5 s by default), so a quiet stream is not a timeout.</summary>
    public static readonly TimeSpan MaxBlock = TimeSpan.FromSeconds(2);

    internal IDatabase Database => connection.GetDatabase();

    /// <summary>BLOCK in milliseconds, at least 1 (0 would mean forever) and at most <see cref="MaxBlock"/>.</summary>
    internal static long BlockMilliseconds(TimeSpan block) =>
        (long)Math.Clamp(Math.Ceiling(block.TotalMilliseconds), 1, MaxBlock.TotalMilliseconds);

    /// <summary>
    /// The entries of an XREAD/XREADGROUP reply: the id and the value of field (null when the entry lacks it). A nil
    /// reply (BLOCK timed out) is no entries.
    /// </summary>
    internal static List<(string Id, byte[]? Value)> Entries(RedisResult reply, RedisValue field)
    {
        var entries = new List<(string, byte[]?)>();
        if (reply.IsNull || reply.Resp2Type != ResultType.Array || reply.Length == 0)
        {
            return entries;
        }

        // RESP2 answers [[stream, entries], ...]; RESP3 a map {stream: entries}, which flattens to [stream, entries, ...].
        var top = (RedisResult[])reply!;
        var isMap = reply.Resp3Type == ResultType.Map;
        for (var i = isMap ? 1 : 0; i < top.Length; i += isMap ? 2 : 1)
        {
            var streamEntries = isMap ? top[i] : ((RedisResult[])top[i]!) is { Length: >= 2 } parts ? parts[1] : null;
            if (streamEntries is null || streamEntries.IsNull)
            {
                continue;
            }

            foreach (var entry in (RedisResult[])streamEntries!)
            {
                var pair = (RedisResult[])entry!;
                entries.Add(((string)pair[0]!, pair.Length > 1 && !pair[1].IsNull ? Field((RedisResult[])pair[1]!, field) : null));
            }
        }

        return entries;
    }

    private static byte[]? Field(RedisResult[] fields, RedisValue field)
    {
        for (var i = 0; i + 1 < fields.Length; i += 2)
        {
            if ((RedisValue)fields[i] == field)
            {
                return (byte[]?)fields[i + 1];
            }
        }

        return null;
    }

    public void Dispose() => connection.Dispose();
}
