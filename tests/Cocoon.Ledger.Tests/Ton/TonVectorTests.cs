using System.Text.Json;
using Cocoon.Ledger.Ton;

namespace Cocoon.Ledger.Tests.Ton;

public sealed class TonVectorsFixture
{
    public TonVectorsFixture() => Root = JsonDocument.Parse(NodeScripts.Run("vectors.mjs")).RootElement;

    public JsonElement Root { get; }
}

/// <summary>Every expected value here comes from @ton/core / @ton/ton at test time (Cocoon.Ledger/LocalChain/vectors.mjs).</summary>
public sealed class TonVectorTests(TonVectorsFixture vectors) : IClassFixture<TonVectorsFixture>
{
    private readonly JsonElement _v = vectors.Root;

    private static byte[] Seed => [.. Enumerable.Range(1, 32).Select(i => (byte)i)];

    [Fact]
    public void Addresses_match_in_every_form()
    {
        foreach (var a in _v.GetProperty("addresses").EnumerateArray())
        {
            var address = TonAddress.Parse(a.GetProperty("raw").GetString()!);
            Assert.Equal(a.GetProperty("raw").GetString(), address.ToRaw());
            Assert.Equal(a.GetProperty("bounceableUrl").GetString(), address.ToFriendly());
            Assert.Equal(a.GetProperty("nonBounceableUrl").GetString(), address.ToFriendly(bounceable: false));
            Assert.Equal(a.GetProperty("bounceableStd").GetString(), address.ToFriendly(urlSafe: false));
            Assert.Equal(a.GetProperty("testBounceable").GetString(), address.ToFriendly(testOnly: true));
            Assert.Equal(a.GetProperty("testNonBounceable").GetString(), address.ToFriendly(bounceable: false, testOnly: true));

            foreach (var (form, bounceable, testOnly) in new[] { ("bounceableUrl", true, false), ("nonBounceableUrl", false, false), ("bounceableStd", true, false), ("testBounceable", true, true), ("testNonBounceable", false, true) })
            {
                var parsed = TonAddress.ParseWithFlags(a.GetProperty(form).GetString()!);
                Assert.Equal(address, parsed.Address);
                Assert.Equal(bounceable, parsed.Bounceable);
                Assert.Equal(testOnly, parsed.TestOnly);
            }
        }
    }

    public static TheoryData<string> CellNames => new() { "empty", "bits17", "full1023", "signed", "coins", "address", "shared", "maybe", "commentShort", "commentLong" };

    [Theory]
    [MemberData(nameof(CellNames))]
    public void Cells_hash_depth_and_boc_match(string name)
    {
        var expected = _v.GetProperty("cells").GetProperty(name);
        AssertCell(expected, BuildCell(name));
    }

    [Theory]
    [MemberData(nameof(CellNames))]
    public void Bocs_from_the_reference_parse_and_round_trip(string name)
    {
        var expected = _v.GetProperty("cells").GetProperty(name);
        foreach (var form in new[] { "boc", "bocCrc", "bocIdx", "bocIdxCrc" })
        {
            var cell = BagOfCells.ParseSingleRoot(Convert.FromHexString(expected.GetProperty(form).GetString()!));
            Assert.Equal(expected.GetProperty("hash").GetString(), Convert.ToHexStringLower(cell.Hash));
        }
    }

    [Fact]
    public void Comments_read_back_including_snake_continuation()
    {
        Assert.Equal("hello", TonMessages.TryReadComment(BuildCell("commentShort")));
        var longText = LongComment;
        var parsed = Cell.FromBoc(Convert.FromHexString(_v.GetProperty("cells").GetProperty("commentLong").GetProperty("boc").GetString()!));
        Assert.Equal(longText, TonMessages.TryReadComment(parsed));
        Assert.Null(TonMessages.TryReadComment(BuildCell("bits17")));
    }

    [Fact]
    public void Internal_messages_with_comments_match()
    {
        var dest = TonAddress.Parse(_v.GetProperty("addresses")[0].GetProperty("raw").GetString()!);
        AssertCell(_v.GetProperty("internal").GetProperty("short"), TonMessages.Internal(InternalTransfer.WithComment(dest, 1_500_000_000, "inv-42", bounce: false)));
        AssertCell(_v.GetProperty("internal").GetProperty("big"), TonMessages.Internal(InternalTransfer.WithComment(dest, 7, LongComment, bounce: true)));
    }

    [Fact]
    public void Wallet_code_constants_match_the_reference()
    {
        var w = _v.GetProperty("wallets");
        Assert.Equal(w.GetProperty("v4Code").GetString(), Convert.ToHexStringLower(WalletCode.V4R2.ToBoc(withCrc32C: false)));
        Assert.Equal(w.GetProperty("v5Code").GetString(), Convert.ToHexStringLower(WalletCode.V5R1.ToBoc(withCrc32C: false)));
    }

    [Fact]
    public void Wallet_addresses_and_data_match()
    {
        var w = _v.GetProperty("wallets");
        using var key = WalletKey.FromSeed(Seed);
        Assert.Equal(w.GetProperty("publicKey").GetString(), Convert.ToHexStringLower(key.PublicKey));

        var v4 = new WalletV4R2(key.PublicKey);
        Assert.Equal(w.GetProperty("v4").GetProperty("address").GetString(), v4.Address.ToRaw());
        Assert.Equal(w.GetProperty("v4").GetProperty("walletId").GetUInt32(), v4.SubwalletId);
        Assert.Equal(w.GetProperty("v4").GetProperty("data").GetString(), Convert.ToHexStringLower(v4.StateInit.Data.ToBoc(withCrc32C: false)));

        var v5 = new WalletV5R1(key.PublicKey);
        Assert.Equal(2147483409, v5.WalletId);
        Assert.Equal(w.GetProperty("v5").GetProperty("address").GetString(), v5.Address.ToRaw());
        Assert.Equal(w.GetProperty("v5").GetProperty("data").GetString(), Convert.ToHexStringLower(v5.StateInit.Data.ToBoc(withCrc32C: false)));
        Assert.Equal(w.GetProperty("v5test").GetProperty("address").GetString(), new WalletV5R1(key.PublicKey, networkGlobalId: WalletV5R1.TestnetGlobalId).Address.ToRaw());
        Assert.Equal(w.GetProperty("v5m1").GetProperty("address").GetString(), new WalletV5R1(key.PublicKey, workchain: -1, subwallet: 7).Address.ToRaw());
        Assert.Equal(w.GetProperty("stateInitV5").GetString(), Convert.ToHexStringLower(v5.StateInit.ToCell().ToBoc()));
    }

    [Fact]
    public void Wallet_v4r2_transfers_match()
    {
        var w = _v.GetProperty("wallets");
        using var key = WalletKey.FromSeed(Seed);
        var v4 = new WalletV4R2(key.PublicKey);
        AssertCell(w.GetProperty("v4Transfer"), v4.CreateTransfer(key, 5, 1700000000, [.. Payees().Take(2).Select(p => (p, (byte)3))]));
        AssertCell(w.GetProperty("v4TransferDeploy"), v4.CreateTransfer(key, 0, 1700000000, [(Payees()[0], (byte)3)], includeStateInit: true));
    }

    [Fact]
    public void Wallet_v5r1_transfers_match()
    {
        var w = _v.GetProperty("wallets");
        using var key = WalletKey.FromSeed(Seed);
        var v5 = new WalletV5R1(key.PublicKey);
        AssertCell(w.GetProperty("v5Transfer"), v5.CreateTransfer(key, 9, 1700000000, [.. Payees().Select(p => (p, (byte)1))]));
        AssertCell(w.GetProperty("v5TransferDeploy"), v5.CreateTransfer(key, 0, 1700000000, [], includeStateInit: true));
        var dest = TonAddress.Parse(_v.GetProperty("addresses")[0].GetProperty("raw").GetString()!);
        var many = Enumerable.Range(1, 255).Select(i => (new InternalTransfer(dest, i), (byte)1)).ToList();
        AssertCell(w.GetProperty("v5Transfer255"), v5.CreateTransfer(key, 1, 1700000000, many));
        Assert.Throws<ArgumentException>(() => v5.CreateTransfer(key, 1, 1700000000, [.. many, (new InternalTransfer(dest, 1), (byte)1)]));
    }

    [Fact]
    public void Ton_proof_signing_hash_matches_and_signature_verifies()
    {
        var p = _v.GetProperty("proof");
        var address = TonAddress.Parse(p.GetProperty("address").GetString()!);
        var hash = TonProofVerifier.SigningHash(address, p.GetProperty("domain").GetString()!, p.GetProperty("timestamp").GetInt64(), p.GetProperty("payload").GetString()!);
        Assert.Equal(p.GetProperty("signingHash").GetString(), Convert.ToHexStringLower(hash));
        using var key = WalletKey.FromSeed(Seed);
        Assert.True(WalletKey.Verify(key.PublicKey, hash, Convert.FromBase64String(p.GetProperty("signature").GetString()!)));
    }

    [Fact]
    public void A_mnemonic_gives_the_same_key_as_the_reference()
    {
        var m = _v.GetProperty("mnemonic");
        using var key = WalletKey.FromMnemonic(m.GetProperty("words").GetString()!);
        Assert.Equal(m.GetProperty("publicKey").GetString(), Convert.ToHexStringLower(key.PublicKey));
        using var same = WalletKey.FromSecret("  " + m.GetProperty("words").GetString()!.ToUpperInvariant() + " ");
        Assert.Equal(key.PublicKey, same.PublicKey);
        Assert.Throws<ArgumentException>(() => WalletKey.FromMnemonic(string.Join(' ', Enumerable.Repeat("abandon", 24))));
        Assert.Throws<ArgumentException>(() => WalletKey.FromMnemonic("too few words"));
    }

    internal static string LongComment => "Cocoon top-up 🚀 " + string.Concat(Enumerable.Repeat("ünïcødé-", 40));

    private static List<InternalTransfer> Payees() =>
        [.. Enumerable.Range(0, 3).Select(i => InternalTransfer.WithComment(
            new TonAddress(0, System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes($"provider-{i}"))),
            1_000_000L * (i + 1),
            $"payout-{i}",
            bounce: false))];

    private static void AssertCell(JsonElement expected, Cell cell)
    {
        Assert.Equal(expected.GetProperty("hash").GetString(), Convert.ToHexStringLower(cell.Hash));
        Assert.Equal(expected.GetProperty("depth").GetInt32(), cell.Depth);
        Assert.Equal(expected.GetProperty("boc").GetString(), Convert.ToHexStringLower(cell.ToBoc(withIndex: false, withCrc32C: false)));
        Assert.Equal(expected.GetProperty("bocCrc").GetString(), Convert.ToHexStringLower(cell.ToBoc(withIndex: false, withCrc32C: true)));
        Assert.Equal(expected.GetProperty("bocIdx").GetString(), Convert.ToHexStringLower(cell.ToBoc(withIndex: true, withCrc32C: false)));
        Assert.Equal(expected.GetProperty("bocIdxCrc").GetString(), Convert.ToHexStringLower(cell.ToBoc(withIndex: true, withCrc32C: true)));
    }

    private Cell BuildCell(string name)
    {
        var leaf = new CellBuilder().StoreUInt(0b1010, 4).EndCell();
        var mid = new CellBuilder().StoreUInt(7, 8).StoreRef(leaf).EndCell();
        return name switch
        {
            "empty" => new CellBuilder().EndCell(),
            "bits17" => new CellBuilder().StoreUInt(0x12345, 17).EndCell(),
            "full1023" => new CellBuilder().StoreUInt(1, 1).StoreBytes(Enumerable.Repeat((byte)0xa5, 127).ToArray()).StoreUInt(0x3f, 6).EndCell(),
            "signed" => new CellBuilder().StoreInt(-5, 8).StoreInt(-1, 1).StoreInt(123456789, 40).EndCell(),
            "coins" => new CellBuilder().StoreCoins(0).StoreCoins(1).StoreCoins(1_000_000_000).StoreCoins(4611686018427387904).EndCell(),
            "address" => new CellBuilder().StoreAddress(TonAddress.Parse(_v.GetProperty("addresses")[1].GetProperty("raw").GetString()!)).StoreAddress(null).EndCell(),
            "shared" => new CellBuilder().StoreUInt(0xdeadbeef, 32).StoreRef(mid).StoreRef(leaf).StoreRef(mid).EndCell(),
            "maybe" => new CellBuilder().StoreMaybeRef(null).StoreMaybeRef(leaf).EndCell(),
            "commentShort" => TonMessages.Comment("hello"),
            "commentLong" => TonMessages.Comment(LongComment),
            _ => throw new ArgumentOutOfRangeException(nameof(name)),
        };
    }
}
