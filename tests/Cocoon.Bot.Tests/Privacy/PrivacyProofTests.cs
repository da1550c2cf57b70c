using System.ClientModel;
using System.Net;
using System.Text;
using Cocoon.Bot.Tests.Hosting;
using OpenAI;
using OpenAI.Chat;
using StackExchange.Redis;

namespace Cocoon.Bot.Tests.Privacy;

/// <summary>
/// The product's promise, checked end to end: a conversation with a unique canary goes through the gateway's HTTP
/// API, the dispatcher, Redis and a real worker, and afterwards neither the canary nor the answer is anywhere the
/// operators can look: every Redis key and value of every type (streams entry by entry), the AOF on disk, every file
/// under COCOON_DATA (ledger database, keys), every log line at Trace level, and /metrics. Also in base64 and hex.
/// </summary>
public sealed class PrivacyProofTests(FullStackFixture stack) : IClassFixture<FullStackFixture>
{
    [Fact]
    public async Task Canary_prompt_and_answer_leave_no_trace_outside_the_sealed_path()
    {
        var canary = "canary" + Guid.NewGuid().ToString("N");
        var prompt = $"Once upon a time {canary} met a little dog.";
        var client = new ChatClient(stack.ModelName, new ApiKeyCredential(stack.Gateway.ApiKey), new OpenAIClientOptions { Endpoint = new Uri(stack.Gateway.BaseAddress, "v1") });

        // A two-turn conversation, streamed and not, plus a raw completion with the same canary.
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 40, Temperature = 0 };
        var first = new StringBuilder();
        await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage(prompt)], options))
        {
            foreach (var part in update.ContentUpdate)
            {
                first.Append(part.Text);
            }
        }

        ChatCompletion second = await client.CompleteChatAsync(
            [new UserChatMessage(prompt), new AssistantChatMessage(first.ToString()), new UserChatMessage($"And then {canary} said hello.")], options);
        using var http = stack.Gateway.CreateApiClient();
        using var completion = await http.PostAsync("v1/completions", new StringContent(
            $$"""{"model":"{{stack.ModelName}}","prompt":"{{prompt}}","max_tokens":40,"temperature":0}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, completion.StatusCode);

        var answers = new[] { first.ToString(), second.Content[0].Text };
        Assert.All(answers, a => Assert.True(a.Trim().Length >= 20, $"the small model answered too little to search for: '{a}'"));

        // What must not be found: the canary in every encoding, and each answer (whole, and in 24-character windows
        // so a partial leak is caught too).
        var needles = Encodings(canary).ToList();
        foreach (var answer in answers)
        {
            needles.Add(("answer", Encoding.UTF8.GetBytes(answer)));
            for (var i = 0; i + 24 <= answer.Length; i += 8)
            {
                needles.Add(("answer window", Encoding.UTF8.GetBytes(answer.Substring(i, 24))));
            }
        }

        var haystacks = new List<(string Where, byte[] Bytes)>();
        haystacks.AddRange(await RedisContentsAsync(stack.Redis));
        haystacks.AddRange(Files(stack.Data.Path));
        haystacks.AddRange(Files(stack.Redis.DataDir));
        haystacks.Add(("logs", Encoding.UTF8.GetBytes(string.Join('\n', stack.Logs.Lines))));
        using (var anonymous = new HttpClient { BaseAddress = stack.Gateway.BaseAddress })
        {
            haystacks.Add(("/metrics", Encoding.UTF8.GetBytes(await anonymous.GetStringAsync("metrics"))));
        }

        // The scan must have looked at something real: streams with sealed jobs, the ledger file, logs about the requests.
        Assert.Contains(haystacks, h => h.Where.Contains("jobs:", StringComparison.Ordinal));
        Assert.Contains(haystacks, h => h.Where.EndsWith("ledger.db", StringComparison.Ordinal) || h.Where.Contains("ledger.db", StringComparison.Ordinal));
        Assert.Contains(haystacks, h => h.Where.Contains("appendonly", StringComparison.Ordinal));
        Assert.True(stack.Logs.Lines.Count > 20);

        var leaks = (from h in haystacks
                     from n in needles
                     where h.Bytes.AsSpan().IndexOf(n.Bytes) >= 0
                     select $"{n.Kind} found in {h.Where}").Distinct().ToList();
        Assert.True(leaks.Count == 0, string.Join("\n", leaks));

        // And the check can fail: the canary is plainly in the request we sent, so a haystack holding it is caught.
        Assert.Contains(needles, n => Encoding.UTF8.GetBytes(prompt).AsSpan().IndexOf(n.Bytes) >= 0);

        // The API key is not logged either.
        Assert.DoesNotContain(stack.Logs.Lines, l => l.Contains(stack.Gateway.ApiKey, StringComparison.Ordinal));
    }

    /// <summary>The canary as UTF-8, UTF-16, hex (both cases) and base64 at every byte alignment.</summary>
    internal static IEnumerable<(string Kind, byte[] Bytes)> Encodings(string canary)
    {
        var utf8 = Encoding.UTF8.GetBytes(canary);
        yield return ("canary", utf8);
        yield return ("canary utf-16", Encoding.Unicode.GetBytes(canary));
        yield return ("canary hex", Encoding.ASCII.GetBytes(Convert.ToHexStringLower(utf8)));
        yield return ("canary HEX", Encoding.ASCII.GetBytes(Convert.ToHexString(utf8)));
        for (var offset = 0; offset < 3; offset++)
        {
            // Base64 of any text containing the canary contains, at one of three alignments, this inner run.
            var shifted = new byte[offset].Concat(utf8).ToArray();
            var b64 = Convert.ToBase64String(shifted);
            var inner = b64[((offset * 4 / 3) + 2)..^4];
            yield return ($"canary base64/{offset}", Encoding.ASCII.GetBytes(inner));
            yield return ($"canary base64url/{offset}", Encoding.ASCII.GetBytes(inner.Replace('+', '-').Replace('/', '_')));
        }
    }

    /// <summary>Every key on the server (not only our prefix), its name and its values, by type.</summary>
    internal static async Task<List<(string Where, byte[] Bytes)>> RedisContentsAsync(Cocoon.Testing.RedisServer redis)
    {
        using var connection = redis.Connect();
        var server = connection.GetServer(connection.GetEndPoints()[0]);
        var db = connection.GetDatabase();
        var result = new List<(string, byte[])>();
        await foreach (var key in server.KeysAsync(pattern: "*", pageSize: 500))
        {
            var where = "redis " + key.ToString();
            result.Add((where + " (name)", (byte[])key!));
            switch (await db.KeyTypeAsync(key))
            {
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
            }
        }

        return result;
    }

    private static byte[] Concat(RedisValue a, RedisValue b) => [.. (byte[])a!, 0, .. (byte[])b!];

    internal static IEnumerable<(string Where, byte[] Bytes)> Files(string root)
    {
        foreach (var file in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories))
        {
            byte[] bytes;
            try
            {
                using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                using var copy = new MemoryStream();
                stream.CopyTo(copy);
                bytes = copy.ToArray();
            }
            catch (IOException)
            {
                continue;
            }

            yield return (file, bytes);
        }
    }
}
