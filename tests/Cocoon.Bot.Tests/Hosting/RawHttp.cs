using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace Cocoon.Bot.Tests.Hosting;

/// <summary>An HTTP response as read off a socket: the status (null when the server closed without answering), headers and body.</summary>
public sealed record RawResponse(int? Status, IReadOnlyDictionary<string, string> Headers, byte[] Body)
{
    public string BodyText => Encoding.UTF8.GetString(Body);

    public bool IsJson => Headers.TryGetValue("content-type", out var type) && type.Contains("json", StringComparison.OrdinalIgnoreCase);
}

/// <summary>
/// Sends bytes a well-behaved client never would (broken chunked framing, overflowing chunk sizes, odd headers) to a
/// real Kestrel over a plain socket, and reads one response: until its Content-Length or last chunk, or until the
/// server closes, so a keep-alive connection does not stall the test.
/// </summary>
public static class RawHttp
{
    public static async Task<RawResponse> SendAsync(Uri server, byte[] request, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(server);
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(30));
        using var client = new TcpClient();
        await client.ConnectAsync(server.Host, server.Port, cts.Token);
        var stream = client.GetStream();
        var received = new MemoryStream();
        try
        {
            await stream.WriteAsync(request, cts.Token);
            var buffer = new byte[8192];
            while (!Complete(received.GetBuffer().AsSpan(0, (int)received.Length)))
            {
                var read = await stream.ReadAsync(buffer, cts.Token);
                if (read == 0)
                {
                    break;
                }

                received.Write(buffer, 0, read);
            }
        }
        catch (IOException)
        {
            // The server may reset a connection it refused mid-request: whatever arrived before is the answer.
        }

        return Parse(received.ToArray());
    }

    /// <summary>Builds a request: the request line, headers (each "Name: value"), a blank line, then the body as given.</summary>
    public static byte[] Request(string method, string path, IEnumerable<string> headers, ReadOnlySpan<byte> body)
    {
        var head = new StringBuilder().Append(method).Append(' ').Append(path).Append(" HTTP/1.1\r\n");
        foreach (var header in headers)
        {
            head.Append(header).Append("\r\n");
        }

        head.Append("\r\n");
        return [.. Encoding.Latin1.GetBytes(head.ToString()), .. body];
    }

    /// <summary>A body in chunked transfer coding, split at the given sizes (the rest in one chunk), with the final 0 chunk.</summary>
    public static byte[] Chunked(ReadOnlySpan<byte> body, IEnumerable<int> splits)
    {
        var output = new List<byte>();
        var at = 0;
        foreach (var size in splits.Append(int.MaxValue))
        {
            var length = Math.Min(size, body.Length - at);
            if (length <= 0)
            {
                break;
            }

            output.AddRange(Encoding.ASCII.GetBytes(length.ToString("X", CultureInfo.InvariantCulture) + "\r\n"));
            output.AddRange(body.Slice(at, length).ToArray());
            output.AddRange("\r\n"u8.ToArray());
            at += length;
        }

        output.AddRange("0\r\n\r\n"u8.ToArray());
        return [.. output];
    }

    private static bool Complete(ReadOnlySpan<byte> data)
    {
        var end = data.IndexOf("\r\n\r\n"u8);
        if (end < 0)
        {
            return false;
        }

        var headers = ParseHeaders(Encoding.Latin1.GetString(data[..end]));
        var body = data[(end + 4)..];
        if (headers.TryGetValue("content-length", out var lengthText) && int.TryParse(lengthText, NumberStyles.None, CultureInfo.InvariantCulture, out var length))
        {
            return body.Length >= length;
        }

        if (headers.TryGetValue("transfer-encoding", out var coding) && coding.Contains("chunked", StringComparison.OrdinalIgnoreCase))
        {
            return body.EndsWith("0\r\n\r\n"u8);
        }

        // No framing: the body ends when the server closes; a status without a body (1xx, 204, 304) is complete now.
        return false;
    }

    private static RawResponse Parse(byte[] data)
    {
        var end = data.AsSpan().IndexOf("\r\n\r\n"u8);
        if (end < 0)
        {
            return new RawResponse(null, new Dictionary<string, string>(), data);
        }

        var head = Encoding.Latin1.GetString(data, 0, end);
        var statusLine = head.Split("\r\n")[0].Split(' ');
        int? status = statusLine.Length > 1 && int.TryParse(statusLine[1], NumberStyles.None, CultureInfo.InvariantCulture, out var s) ? s : null;
        var headers = ParseHeaders(head);
        var body = data[(end + 4)..];
        if (headers.TryGetValue("transfer-encoding", out var coding) && coding.Contains("chunked", StringComparison.OrdinalIgnoreCase))
        {
            body = Dechunk(body);
        }

        return new RawResponse(status, headers, body);
    }

    private static Dictionary<string, string> ParseHeaders(string head)
    {
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in head.Split("\r\n").Skip(1))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0)
            {
                headers[line[..colon].Trim()] = line[(colon + 1)..].Trim();
            }
        }

        return headers;
    }

    private static byte[] Dechunk(byte[] data)
    {
        var output = new List<byte>();
        var at = 0;
        while (at < data.Length)
        {
            var lineEnd = data.AsSpan(at).IndexOf("\r\n"u8);
            if (lineEnd < 0 || !int.TryParse(Encoding.ASCII.GetString(data, at, lineEnd).Split(';')[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var size) || size == 0)
            {
                break;
            }

            at += lineEnd + 2;
            output.AddRange(data.AsSpan(at, Math.Min(size, data.Length - at)).ToArray());
            at += size + 2;
        }

        return [.. output];
    }
}
