using StackExchange.Redis;

namespace Cocoon.Bot.Tests.Privacy;

/// <summary>
/// Every key matching a pattern, its name and its values, by type (streams entry by entry). A key of a type the scan
/// cannot read fails the test: a scan that skips what it does not understand would let a leak through.
/// </summary>
internal static class RedisContents
{
    public static async Task<List<(string Where, byte[] Bytes)>> ReadAsync(IConnectionMultiplexer connection, string pattern)
    {
        var server = connection.GetServer(connection.GetEndPoints()[0]);
        var db = connection.GetDatabase();
        var result = new List<(string, byte[])>();
        await foreach (var key in server.KeysAsync(pattern: pattern, pageSize: 500))
        {
            var where = "redis " + key.ToString();
            result.Add((where + " (name)", (byte[])key!));
            var type = await db.KeyTypeAsync(key);
            switch (type)
            {
                case RedisType.None:
                    // Expired or deleted between the listing and now: nothing left to hold anything.
                    break;
                case RedisType.String:
                    result.Add((where, (byte[])(await db.StringGetAsync(key))!));
                    break;
                case RedisType.Hash:
                    foreach (var e in await db.HashGetAllAsync(key))
                    {
                        result.Add((where, Concat(e.Name, e.Value)));
                    }

                    break;
                case RedisType.Stream:
                    foreach (var entry in await db.StreamRangeAsync(key, "-", "+"))
                    {
                        foreach (var v in entry.Values)
                        {
                            result.Add((where + " " + entry.Id.ToString(), Concat(v.Name, v.Value)));
                        }
                    }

                    break;
                case RedisType.List:
                    foreach (var v in await db.ListRangeAsync(key))
                    {
                        result.Add((where, (byte[])v!));
                    }

                    break;
                case RedisType.Set:
                    foreach (var v in await db.SetMembersAsync(key))
                    {
                        result.Add((where, (byte[])v!));
                    }

                    break;
                case RedisType.SortedSet:
                    foreach (var v in await db.SortedSetRangeByRankAsync(key))
                    {
                        result.Add((where, (byte[])v!));
                    }

                    break;
                default:
                    Assert.Fail($"{where} is a {type}, which the scan cannot read");
                    break;
            }
        }

        return result;
    }

    private static byte[] Concat(RedisValue a, RedisValue b) => [.. (byte[])a!, 0, .. (byte[])b!];
}
