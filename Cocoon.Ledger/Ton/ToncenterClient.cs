using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Cocoon.Ledger.Ton;

/// <summary>A message as the chain API reports it. Source is null for external messages.</summary>
public sealed record ChainMessage(
    string Hash,
    TonAddress? Source,
    TonAddress? Destination,
    long Value,
    bool Bounced,
    string? Comment,
    string? Opcode)
{
    /// <summary>The body as a bag of cells (base64), when the API reports it (v3 message_content.body).</summary>
    public string? BodyBoc { get; init; }

    /// <summary>The forwarding fee the sender paid on top of the value (internal messages; v3 fwd_fee), 0 when not reported.</summary>
    public long ForwardFee { get; init; }
}

/// <summary>A transaction of one account. <see cref="Aborted"/> is null when the API shape does not say (v2).</summary>
public sealed record ChainTransaction(
    string Hash,
    long Lt,
    long Now,
    TonAddress Account,
    bool? Aborted,
    ChainMessage? InMessage,
    IReadOnlyList<ChainMessage> OutMessages)
{
    /// <summary>What the transaction cost its account, in nanotons (v3 total_fees, v2 fee); 0 when not reported.</summary>
    public long TotalFees { get; init; }
}

/// <summary>One entry of a get-method's stack as toncenter v2 reports it: a number, or a cell or slice as a bag of cells.</summary>
public sealed record TvmStackEntry(string Type, System.Numerics.BigInteger? Number, string? BocBase64)
{
    public System.Numerics.BigInteger AsNumber() => Number ?? throw new ToncenterException($"Expected a number on the get-method stack, got {Type}.");
}

/// <summary>A get-method's result: its exit code (0 or 1 is success) and its stack, bottom first.</summary>
public sealed record GetMethodResult(int ExitCode, IReadOnlyList<TvmStackEntry> Stack);

public sealed record WalletInformation(bool IsWallet, long Balance, string AccountState, uint? Seqno, long LastTransactionLt);

public sealed class ToncenterException(string message, HttpStatusCode? status = null) : Exception(message)
{
    public HttpStatusCode? Status { get; } = status;
}

/// <summary>
/// A typed client for the toncenter HTTP API (v2 and v3), the real service or the local chain that speaks its
/// shapes. The base address and the optional X-API-Key header are set where it is registered.
/// </summary>
public sealed class ToncenterClient(HttpClient http)
{
    private const int MaxAttempts = 4;

    /// <summary>v3 <c>/api/v3/transactions</c>: lt in [startLt, endLt], ascending or descending.</summary>
    public async Task<IReadOnlyList<ChainTransaction>> GetTransactionsAsync(
        TonAddress account, long? startLt, long? endLt, int limit, int offset, bool ascending, CancellationToken cancellationToken)
    {
        var query = new StringBuilder("api/v3/transactions?account=").Append(Uri.EscapeDataString(account.ToRaw()));
        if (startLt is { } s)
        {
            query.Append(CultureInfo.InvariantCulture, $"&start_lt={s}");
        }

        if (endLt is { } e)
        {
            query.Append(CultureInfo.InvariantCulture, $"&end_lt={e}");
        }

        query.Append(CultureInfo.InvariantCulture, $"&limit={limit}&offset={offset}&sort={(ascending ? "asc" : "desc")}");
        using var doc = await GetJsonAsync(query.ToString(), cancellationToken).ConfigureAwait(false);
        return [.. doc.RootElement.GetProperty("transactions").EnumerateArray().Select(ParseV3Transaction)];
    }

    /// <summary>v2 <c>getTransactions</c>: newest first, starting at (lt, hash) when given, down to (exclusive) toLt.</summary>
    public async Task<IReadOnlyList<ChainTransaction>> GetTransactionsV2Async(
        TonAddress address, int limit, long? lt, string? hash, long? toLt, CancellationToken cancellationToken)
    {
        var query = new StringBuilder("api/v2/getTransactions?address=").Append(Uri.EscapeDataString(address.ToRaw()))
            .Append(CultureInfo.InvariantCulture, $"&limit={limit}&archival=true");
        if (lt is { } l)
        {
            query.Append(CultureInfo.InvariantCulture, $"&lt={l}");
        }

        if (hash is not null)
        {
            query.Append("&hash=").Append(Uri.EscapeDataString(hash));
        }

        if (toLt is { } t)
        {
            query.Append(CultureInfo.InvariantCulture, $"&to_lt={t}");
        }

        using var doc = await GetJsonAsync(query.ToString(), cancellationToken).ConfigureAwait(false);
        return [.. V2Result(doc).EnumerateArray().Select(ParseV2Transaction)];
    }

    public async Task<long> GetAddressBalanceAsync(TonAddress address, CancellationToken cancellationToken)
    {
        using var doc = await GetJsonAsync("api/v2/getAddressBalance?address=" + Uri.EscapeDataString(address.ToRaw()), cancellationToken).ConfigureAwait(false);
        return ParseLong(V2Result(doc));
    }

    public async Task<WalletInformation> GetWalletInformationAsync(TonAddress address, CancellationToken cancellationToken)
    {
        using var doc = await GetJsonAsync("api/v2/getWalletInformation?address=" + Uri.EscapeDataString(address.ToRaw()), cancellationToken).ConfigureAwait(false);
        var r = V2Result(doc);
        uint? seqno = r.TryGetProperty("seqno", out var s) && s.ValueKind == JsonValueKind.Number ? s.GetUInt32() : null;
        var lastLt = r.TryGetProperty("last_transaction_id", out var last) ? ParseLong(last.GetProperty("lt")) : 0;
        return new WalletInformation(
            r.TryGetProperty("wallet", out var w) && w.GetBoolean(),
            ParseLong(r.GetProperty("balance")),
            r.TryGetProperty("account_state", out var st) ? st.GetString() ?? "unknown" : "unknown",
            seqno,
            lastLt);
    }

    /// <summary>
    /// v2 <c>runGetMethod</c>: runs a get-method of an account on its current state. Arguments are numbers or cells
    /// (sent as toncenter's <c>["num", "123"]</c> and <c>["tvm.Slice", base64]</c> pairs; a slice argument is the
    /// cell's bits read from the start). A method that fails answers ok with its exit code, not an error.
    /// </summary>
    public async Task<GetMethodResult> RunGetMethodAsync(TonAddress address, string method, IReadOnlyList<object> arguments, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(address);
        ArgumentNullException.ThrowIfNull(arguments);
        var stack = arguments.Select(a => a switch
        {
            long n => new object[] { "num", n.ToString(CultureInfo.InvariantCulture) },
            System.Numerics.BigInteger n => new object[] { "num", n.ToString(CultureInfo.InvariantCulture) },
            Cell c => new object[] { "tvm.Slice", c.ToBocBase64() },
            _ => throw new ArgumentException($"A get-method argument must be a long, a BigInteger or a Cell, not {a?.GetType().Name}.", nameof(arguments)),
        }).ToArray();
        using var response = await SendWithRetryAsync(
            () => new HttpRequestMessage(HttpMethod.Post, "api/v2/runGetMethod") { Content = JsonContent.Create(new { address = address.ToRaw(), method, stack }) },
            cancellationToken).ConfigureAwait(false);
        using var doc = await ReadJsonAsync(response, cancellationToken).ConfigureAwait(false);
        var r = V2Result(doc);
        var entries = new List<TvmStackEntry>();
        foreach (var item in r.GetProperty("stack").EnumerateArray())
        {
            var type = item[0].GetString() ?? "";
            entries.Add(type switch
            {
                "num" => new TvmStackEntry(type, ParseTvmNumber(item[1].GetString()!), null),
                "cell" or "slice" or "builder" => new TvmStackEntry(type, null, item[1].GetProperty("bytes").GetString()),
                _ => new TvmStackEntry(type, null, null),
            });
        }

        return new GetMethodResult(r.GetProperty("exit_code").GetInt32(), entries);
    }

    /// <summary>toncenter's stack numbers: hex with a 0x prefix (after an optional minus), or decimal.</summary>
    internal static System.Numerics.BigInteger ParseTvmNumber(string text)
    {
        var negative = text.StartsWith('-');
        var digits = negative ? text[1..] : text;
        var value = digits.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? System.Numerics.BigInteger.Parse("0" + digits[2..], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture)
            : System.Numerics.BigInteger.Parse(digits, NumberStyles.None, CultureInfo.InvariantCulture);
        return negative ? -value : value;
    }

    /// <summary>Sends an external message. A rejection by the chain is a <see cref="ToncenterException"/>.</summary>
    public async Task SendBocAsync(byte[] boc, CancellationToken cancellationToken)
    {
        using var response = await SendWithRetryAsync(
            () => new HttpRequestMessage(HttpMethod.Post, "api/v2/sendBoc") { Content = JsonContent.Create(new { boc = Convert.ToBase64String(boc) }) },
            cancellationToken).ConfigureAwait(false);
        using var doc = await ReadJsonAsync(response, cancellationToken).ConfigureAwait(false);
        V2Result(doc);
    }

    private async Task<JsonDocument> GetJsonAsync(string path, CancellationToken cancellationToken)
    {
        using var response = await SendWithRetryAsync(() => new HttpRequestMessage(HttpMethod.Get, path), cancellationToken).ConfigureAwait(false);
        return await ReadJsonAsync(response, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Retries rate limits (429) and gateway hiccups (502-504) with a short backoff; everything else is final.</summary>
    private async Task<HttpResponseMessage> SendWithRetryAsync(Func<HttpRequestMessage> request, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            using var message = request();
            var response = await http.SendAsync(message, cancellationToken).ConfigureAwait(false);
            var transient = response.StatusCode is HttpStatusCode.TooManyRequests or HttpStatusCode.BadGateway or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout;
            if (!transient || attempt == MaxAttempts)
            {
                return response;
            }

            response.Dispose();
            await Task.Delay(TimeSpan.FromMilliseconds(250 * attempt), cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task<JsonDocument> ReadJsonAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            var error = body;
            try
            {
                using var doc = JsonDocument.Parse(body);
                if (doc.RootElement.TryGetProperty("error", out var e))
                {
                    error = e.ToString();
                }
            }
            catch (JsonException)
            {
                // The body was not JSON; report it as text.
            }

            throw new ToncenterException($"Chain API {(int)response.StatusCode} on {response.RequestMessage?.RequestUri?.AbsolutePath}: {error}", response.StatusCode);
        }

        try
        {
            return JsonDocument.Parse(body);
        }
        catch (JsonException e)
        {
            throw new ToncenterException("Chain API answered with something that is not JSON: " + e.Message);
        }
    }

    private static JsonElement V2Result(JsonDocument doc)
    {
        var root = doc.RootElement;
        if (!root.TryGetProperty("ok", out var ok) || !ok.GetBoolean())
        {
            throw new ToncenterException("Chain API error: " + (root.TryGetProperty("error", out var e) ? e.ToString() : root.ToString()));
        }

        return root.GetProperty("result");
    }

    internal static ChainTransaction ParseV3Transaction(JsonElement tx)
    {
        var aborted = tx.TryGetProperty("description", out var d) && d.ValueKind == JsonValueKind.Object && d.TryGetProperty("aborted", out var a)
            ? a.GetBoolean()
            : (bool?)null;
        return new ChainTransaction(
            tx.GetProperty("hash").GetString()!,
            ParseLong(tx.GetProperty("lt")),
            tx.GetProperty("now").GetInt64(),
            TonAddress.Parse(tx.GetProperty("account").GetString()!),
            aborted,
            tx.TryGetProperty("in_msg", out var inMsg) && inMsg.ValueKind == JsonValueKind.Object ? ParseV3Message(inMsg) : null,
            tx.TryGetProperty("out_msgs", out var outs) ? [.. outs.EnumerateArray().Select(ParseV3Message)] : [])
        {
            TotalFees = tx.TryGetProperty("total_fees", out var fees) && fees.ValueKind != JsonValueKind.Null ? ParseLong(fees) : 0,
        };
    }

    private static ChainMessage ParseV3Message(JsonElement m)
    {
        string? comment = null;
        string? bodyBoc = null;
        if (m.TryGetProperty("message_content", out var content) && content.ValueKind == JsonValueKind.Object)
        {
            if (content.TryGetProperty("decoded", out var decoded) && decoded.ValueKind == JsonValueKind.Object
                && decoded.TryGetProperty("type", out var type) && type.GetString() == "text_comment")
            {
                comment = decoded.GetProperty("comment").GetString();
            }
            else if (content.TryGetProperty("body", out var body) && body.GetString() is { Length: > 0 } boc)
            {
                comment = TryComment(boc);
            }

            if (content.TryGetProperty("body", out var raw) && raw.ValueKind == JsonValueKind.String)
            {
                bodyBoc = raw.GetString();
            }
        }

        return new ChainMessage(
            m.GetProperty("hash").GetString()!,
            OptionalAddress(m, "source"),
            OptionalAddress(m, "destination"),
            m.TryGetProperty("value", out var v) && v.ValueKind != JsonValueKind.Null ? ParseLong(v) : 0,
            m.TryGetProperty("bounced", out var b) && b.ValueKind == JsonValueKind.True,
            comment,
            m.TryGetProperty("opcode", out var op) && op.ValueKind == JsonValueKind.String ? op.GetString() : null)
        {
            BodyBoc = bodyBoc,
            ForwardFee = m.TryGetProperty("fwd_fee", out var fwd) && fwd.ValueKind != JsonValueKind.Null ? ParseLong(fwd) : 0,
        };
    }

    internal static ChainTransaction ParseV2Transaction(JsonElement tx)
    {
        var id = tx.GetProperty("transaction_id");
        return new ChainTransaction(
            id.GetProperty("hash").GetString()!,
            ParseLong(id.GetProperty("lt")),
            tx.GetProperty("utime").GetInt64(),
            TonAddress.Parse(tx.GetProperty("address").GetProperty("account_address").GetString()!),
            null,
            tx.TryGetProperty("in_msg", out var inMsg) && inMsg.ValueKind == JsonValueKind.Object ? ParseV2Message(inMsg) : null,
            tx.TryGetProperty("out_msgs", out var outs) ? [.. outs.EnumerateArray().Select(ParseV2Message)] : []);
    }

    private static ChainMessage ParseV2Message(JsonElement m)
    {
        string? comment = null;
        if (m.TryGetProperty("msg_data", out var data) && data.ValueKind == JsonValueKind.Object)
        {
            var type = data.GetProperty("@type").GetString();
            if (type == "msg.dataText" && data.GetProperty("text").GetString() is { } text)
            {
                comment = Encoding.UTF8.GetString(Convert.FromBase64String(text));
            }
            else if (type == "msg.dataRaw" && data.TryGetProperty("body", out var body) && body.GetString() is { Length: > 0 } boc)
            {
                comment = TryComment(boc);
            }
        }

        return new ChainMessage(
            m.GetProperty("hash").GetString()!,
            OptionalAddress(m, "source"),
            OptionalAddress(m, "destination"),
            m.TryGetProperty("value", out var v) ? ParseLong(v) : 0,
            // v2 does not report the bounced flag; a bounced body starts with 0xffffffff, so it never reads as a comment.
            false,
            comment,
            null);
    }

    private static string? TryComment(string bocBase64)
    {
        try
        {
            return TonMessages.TryReadComment(Cell.FromBocBase64(bocBase64));
        }
        catch (TonFormatException)
        {
            return null;
        }
    }

    private static TonAddress? OptionalAddress(JsonElement m, string name) =>
        m.TryGetProperty(name, out var a) && a.GetString() is { Length: > 0 } text ? TonAddress.Parse(text) : null;

    private static long ParseLong(JsonElement e) => e.ValueKind == JsonValueKind.Number
        ? e.GetInt64()
        : long.Parse(e.GetString()!, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
}
