using System.Text;
using Cocoon.Bot.Tests.Hosting;
using Cocoon.Testing;
using StackExchange.Redis;

namespace Cocoon.Bot.Tests.Privacy;

/// <summary>
/// Where the privacy proofs look for a leaked canary: every Redis key and value of every type (streams entry by
/// entry), every file under a folder; and what they look for: the canary in UTF-8, UTF-16, hex and base64.
/// </summary>
public static class PrivacyScanner
{
    /// <summary>The canary as UTF-8, UTF-16, hex (both cases) and base64 at every byte alignment.</summary>
    public static IEnumerable<(string Kind, byte[] Bytes)> Encodings(string canary)
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
    public static async Task<List<(string Where, byte[] Bytes)>> RedisContentsAsync(RedisServer redis)
    {
        using var connection = redis.Connect();
        return await RedisContents.ReadAsync(connection, "*");
    }

    public static IEnumerable<(string Where, byte[] Bytes)> Files(string root)
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
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Only a file that is gone (a journal deleted between the listing and the read) holds nothing; any
                // other file the scan cannot read could be the leak, so the proof fails rather than skip it.
                if (!File.Exists(file))
                {
                    continue;
                }

                throw new InvalidOperationException($"the privacy scan could not read {file}: {e.Message}", e);
            }

            yield return (file, bytes);
        }
    }

    /// <summary>A reply as needles: whole, and every 24-character window at a step of 8 (a reply leaked in pieces is still found).</summary>
    public static IEnumerable<(string Kind, byte[] Bytes)> AnswerWindows(string answer)
    {
        yield return ("answer", Encoding.UTF8.GetBytes(answer));
        for (var i = 0; i + 24 <= answer.Length; i += 8)
        {
            yield return ("answer window", Encoding.UTF8.GetBytes(answer.Substring(i, 24)));
        }
    }

    /// <summary>
    /// Everything a running stack keeps outside the worker's memory: every Redis key and value, every file under the
    /// stack's data folder and Redis's own (AOF, RDB), the captured log lines, and what /metrics shows to anyone.
    /// </summary>
    public static async Task<List<(string Where, byte[] Bytes)>> EverywhereAsync(RedisServer redis, string dataDir, CapturingLoggerProvider logs, Uri gateway)
    {
        var haystacks = new List<(string Where, byte[] Bytes)>();
        haystacks.AddRange(await RedisContentsAsync(redis));
        haystacks.AddRange(Files(dataDir));
        haystacks.AddRange(Files(redis.DataDir));
        haystacks.Add(("logs", Encoding.UTF8.GetBytes(string.Join('\n', logs.Lines))));
        using var anonymous = new HttpClient { BaseAddress = gateway };
        haystacks.Add(("/metrics", Encoding.UTF8.GetBytes(await anonymous.GetStringAsync("metrics"))));
        return haystacks;
    }

    /// <summary>
    /// Asserts that the scan looked at something real (the sealed job stream, the ledger, the AOF, log lines about the
    /// request) and that no needle was found anywhere.
    /// </summary>
    public static void AssertScannedAndClean(List<(string Where, byte[] Bytes)> haystacks, IReadOnlyList<(string Kind, byte[] Bytes)> needles, IEnumerable<string> logLines, string requestId)
    {
        Assert.Contains(haystacks, h => h.Where.Contains("jobs:", StringComparison.Ordinal));
        Assert.Contains(haystacks, h => h.Where.Contains("ledger.db", StringComparison.Ordinal));
        Assert.Contains(haystacks, h => h.Where.Contains("appendonly", StringComparison.Ordinal));
        Assert.Contains(logLines, l => l.Contains(requestId, StringComparison.Ordinal));
        var leaks = Leaks(haystacks, needles);
        Assert.True(leaks.Count == 0, string.Join("\n", leaks));
    }

    /// <summary>"needle found in haystack" for every needle found, or none.</summary>
    public static List<string> Leaks(IEnumerable<(string Where, byte[] Bytes)> haystacks, IReadOnlyList<(string Kind, byte[] Bytes)> needles) =>
        (from h in haystacks
         from n in needles
         where h.Bytes.AsSpan().IndexOf(n.Bytes) >= 0
         select $"{n.Kind} found in {h.Where}").Distinct().ToList();
}
