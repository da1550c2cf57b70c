using System.Text;
using StackExchange.Redis;

namespace Cocoon.Bot.Tests.Telegram;

/// <summary>Reads every value under a key pattern, whatever its type, and asserts none contains the given text.</summary>
public static class RedisPlaintext
{
    public static async Task AssertAbsentAsync(IConnectionMultiplexer redis, string pattern, params string[] needles)
    {
        ArgumentNullException.ThrowIfNull(redis);
        var db = redis.GetDatabase();
        var checkedKeys = 0;
        await foreach (var key in redis.GetServers()[0].KeysAsync(pattern: pattern))
        {
            checkedKeys++;
            var values = await db.KeyTypeAsync(key) switch
            {
                RedisType.String => [await db.StringGetAsync(key)],
                RedisType.Hash => (await db.HashGetAllAsync(key)).SelectMany(e => new[] { e.Name, e.Value }).ToArray(),
                RedisType.List => await db.ListRangeAsync(key),
                RedisType.Set => await db.SetMembersAsync(key),
                RedisType.SortedSet => await db.SortedSetRangeByRankAsync(key),
                RedisType.Stream => (await db.StreamRangeAsync(key)).SelectMany(e => e.Values.SelectMany(v => new[] { v.Name, v.Value })).ToArray(),
                _ => [],
            };
            foreach (var value in values)
            {
                var text = value.IsNull ? string.Empty : Encoding.UTF8.GetString((byte[])value!);
                foreach (var needle in needles.Where(n => n.Length > 0))
                {
                    Assert.False(text.Contains(needle, StringComparison.Ordinal), $"Redis key {key} holds \"{needle}\" in plaintext");
                }
            }
        }

        Assert.True(checkedKeys > 0, "no keys matched " + pattern);
    }
}
