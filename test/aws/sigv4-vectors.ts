/**
 * AWS Signature Version 4 test vectors, as data for a signer test.
 *
 * Source: the "AWS Signature Version 4 Test Suite" (aws-sig-v4-test-suite, 2015 edition; NOTICE:
 * "Copyright 2019 Amazon.com, Inc. or its affiliates", Apache-2.0), copied byte for byte from the
 * copy that botocore ships in its PyPI source distribution:
 *   botocore-1.44.8.tar.gz  ->  tests/unit/auth/aws4_testsuite/<suitePath>/<name>.{req,creq,sts,authz,sreq}
 * (the same files are in github.com/boto/botocore under tests/unit/auth/aws4_testsuite). The
 * request fields below were parsed from each `.req`, `canonicalRequest` is the `.creq`,
 * `stringToSign` the `.sts` and `authorization` the `.authz`, unchanged. The 14 of these cases that
 * smithy-typescript's (and aws-sdk-js-v3's) `packages/signature-v4/src/suite.fixture.ts` also has
 * carry the same Authorization there. No npm package ships the suite's files, and the botocore
 * *wheel* omits tests, so they are embedded here rather than read from an installed package.
 *
 * Cases chosen for a non-S3 service with a single-encoded path (the SageMaker MLflow case):
 * vanilla GET/POST, query ordering and encoding, UTF-8 in path and query, header trimming,
 * sorting and duplicate keys, a body, and the session-token variants. Omitted on purpose:
 * get-header-value-multiline (obsolete line folding), and the normalize-path cases with `..`
 * or `//` apart from get-slash-dot-slash (MLflow paths never contain them).
 *
 * Field conventions:
 * - `request.target` is the request-target exactly as on the published request line. The suite
 *   writes paths unencoded ("/example space/", "/\u1234", "/example/$delete"), which is not what
 *   travels on the wire. `request.path` is that published path; the expected canonical URI is it
 *   URI-encoded once ("/example%20space/", "/%E1%88%B4", "/example/%24delete"). So: hand a
 *   signer `request.path` where it expects the wire path. (On the wire these paths would be sent
 *   percent-encoded, and a non-S3 signer encodes that once more, as AWS requires:
 *   "/example%20space/" is signed as "/example%2520space/". The suite does not exercise that second
 *   encoding; for plain-ASCII MLflow paths both readings give the same canonical URI.)
 * - `request.query` holds the decoded key/value pairs in request order (repeated keys repeat);
 *   `request.rawQuery` is the query as published. Note get-vanilla-query-order-encoded publishes a
 *   percent-encoded key (%E1%88%B4) and get-vanilla-utf8-query a raw UTF-8 one: both decode to U+1234.
 * - `request.headers` are in request order with the published name case and the raw value after
 *   the colon (leading whitespace kept: get-header-value-trim tests that the signer trims it).
 *   Repeated names (get-header-key-duplicate) must be joined with "," and no space, in order;
 *   note that the WHATWG `Headers` class joins with ", ", which would NOT reproduce this vector.
 *   The `X-Amz-Date` header carries the signing date; signers that add it themselves (smithy)
 *   should be given `SIGV4_SUITE_SIGNING_DATE` instead, with the header left out or overwritten.
 * - `sessionToken`: the credentials are temporary; the signer must add and sign
 *   `x-amz-security-token` (get-vanilla-with-session-token). In post-sts-header-before the token is a
 *   request header instead, and it is signed like any other header.
 * - `headersAddedAfterSigning`: post-sts-header-after signs WITHOUT the token and adds it after
 *   (the service does not expect it signed). A signer that always signs the token will not
 *   reproduce that case unless the token is withheld from it; SageMaker's plugin (botocore) signs it.
 * - None of these vectors sends `x-amz-content-sha256`: the payload hash only appears as the last
 *   line of the canonical request (smithy: construct with `applyChecksum: false` to reproduce).
 *
 * get-slash-dot-slash expects `/./` to be normalised to `/`. A signer that does not normalise
 * (because the gateway refuses dot segments before signing) fails it by design: test that the
 * gateway rejects such a path instead, or skip the vector for the bare signer.
 *
 * Checked against @smithy/signature-v4 5.7.5 (sha256 from @smithy/hash-node, applyChecksum false)
 * on Bun 1.4.4 and Deno 2.9.6: all 20 reproduce `canonicalRequest`, `stringToSign` and
 * `authorization` exactly. So do the 14 cases of the suite not copied here, including every
 * normalize-path case: smithy removes `.`, `..` and empty segments when `uriEscapePath` is true
 * (its default), and turns the newlines of get-header-value-multiline into spaces.
 */

export const SIGV4_SUITE_CREDENTIALS = {
  accessKeyId: "AKIDEXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
} as const;
export const SIGV4_SUITE_REGION = "us-east-1";
export const SIGV4_SUITE_SERVICE = "service";
export const SIGV4_SUITE_AMZ_DATE = "20150830T123600Z";
export const SIGV4_SUITE_SIGNING_DATE = new Date("2015-08-30T12:36:00Z");
/** SHA-256 of the empty string, the payload hash of every bodiless vector. */
export const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

export interface SigV4Vector {
  /** Case name in the suite. */
  name: string;
  /** Folder of the case inside aws4_testsuite/. */
  suitePath: string;
  request: {
    method: string;
    /** Request-target as on the published request line (raw, not percent-encoded). */
    target: string;
    /** Decoded path: encode once for the canonical request. */
    path: string;
    /** Query string as published ("" when none). */
    rawQuery: string;
    /** Decoded query pairs, in request order. */
    query: [string, string][];
    /** Headers in request order, published name case, raw value after the colon. */
    headers: [string, string][];
    body: string;
  };
  /** Temporary credentials: the signer adds and signs x-amz-security-token with this value. */
  sessionToken?: string;
  /** Headers the published signed request (.sreq) adds after signing; not signed. */
  headersAddedAfterSigning?: [string, string][];
  canonicalRequest: string;
  stringToSign: string;
  authorization: string;
}

export const SIGV4_VECTORS: readonly SigV4Vector[] = [
  {
    name: "get-vanilla",
    suitePath: "get-vanilla",
    request: {
      method: "GET",
      target: "/",
      path: "/",
      rawQuery: "",
      query: [],
      headers: [
        ["Host", "example.amazonaws.com"],
        ["X-Amz-Date", "20150830T123600Z"],
      ],
      body: "",
    },
    canonicalRequest: [
      "GET",
      "/",
      "",
      "host:example.amazonaws.com",
      "x-amz-date:20150830T123600Z",
      "",
      "host;x-amz-date",
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ].join("\n"),
    stringToSign: [
      "AWS4-HMAC-SHA256",
      "20150830T123600Z",
      "20150830/us-east-1/service/aws4_request",
      "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63",
    ].join("\n"),
    authorization:
      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
  },
  {
    name: "get-vanilla-query-order-key-case",
    suitePath: "get-vanilla-query-order-key-case",
    request: {
      method: "GET",
      target: "/?Param2=value2&Param1=value1",
      path: "/",
      rawQuery: "Param2=value2&Param1=value1",
      query: [["Param2", "value2"], ["Param1", "value1"]],
      headers: [
        ["Host", "example.amazonaws.com"],
        ["X-Amz-Date", "20150830T123600Z"],
      ],
      body: "",
    },
    canonicalRequest: [
      "GET",
      "/",
      "Param1=value1&Param2=value2",
      "host:example.amazonaws.com",
      "x-amz-date:20150830T123600Z",
      "",
      "host;x-amz-date",
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ].join("\n"),
    stringToSign: [
      "AWS4-HMAC-SHA256",
      "20150830T123600Z",
      "20150830/us-east-1/service/aws4_request",
      "816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0",
    ].join("\n"),
    authorization:
      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
  },
  {
    name: "get-vanilla-query-order-key",
    suitePath: "get-vanilla-query-order-key",
    request: {
      method: "GET",
      target: "/?Param1=value2&Param1=Value1",
      path: "/",
      rawQuery: "Param1=value2&Param1=Value1",
      query: [["Param1", "value2"], ["Param1", "Value1"]],
      headers: [
        ["Host", "example.amazonaws.com"],
        ["X-Amz-Date", "20150830T123600Z"],
      ],
      body: "",
    },
    canonicalRequest: [
      "GET",
      "/",
      "Param1=Value1&Param1=value2",
      "host:example.amazonaws.com",
      "x-amz-date:20150830T123600Z",
      "",
      "host;x-amz-date",
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ].join("\n"),
    stringToSign: [
      "AWS4-HMAC-SHA256",
      "20150830T123600Z",
      "20150830/us-east-1/service/aws4_request",
      "704b4cef673542d84cdff252633f065e8daeba5f168b77116f8b1bcaf3d38f89",
    ].join("\n"),
    authorization:
      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1",
  },
  {
    name: "get-vanilla-query-order-encoded",
    suitePath: "get-vanilla-query-order-encoded",
    request: {
      method: "GET",
      target: "/?Param-3=Value3&Param=Value2&%E1%88%B4=Value1",
      path: "/",
      rawQuery: "Param-3=Value3&Param=Value2&%E1%88%B4=Value1",
      query: [["Param-3", "Value3"], ["Param", "Value2"], ["\u1234", "Value1"]],
      headers: [
        ["Host", "example.amazonaws.com"],
        ["X-Amz-Date", "20150830T123600Z"],
      ],
      body: "",
    },
    canonicalRequest: [
      "GET",
      "/",
      "%E1%88%B4=Value1&Param=Value2&Param-3=Value3",
      "host:example.amazonaws.com",
      "x-amz-date:20150830T123600Z",
      "",
      "host;x-amz-date",
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ].join("\n"),
    stringToSign: [
      "AWS4-HMAC-SHA256",
      "20150830T123600Z",
      "20150830/us-east-1/service/aws4_request",
      "868294f5c38bd141c4972a373a76654f1418a8e4fc18b2e7903ae45e8ae0ec71",
    ].join("\n"),
    authorization:
      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=371d3713e185cc334048618a97f809c9ffe339c62934c032af5a0e595648fcac",
  },
  {
    name: "get-vanilla-query-unreserved",
    suitePath: "get-vanilla-query-unreserved",
    request: {
      method: "GET",
      target: "/?-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
      path: "/",
      rawQuery: "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
      query: [["-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"]],
      headers: [
        ["Host", "example.amazonaws.com"],
        ["X-Amz-Date", "20150830T123600Z"],
      ],
      body: "",
    },
    canonicalRequest: [
      "GET",
      "/",
      "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
      "host:example.amazonaws.com",
      "x-amz-date:20150830T123600Z",
      "",
      "host;x-amz-date",
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ].join("\n"),
    stringToSign: [
      "AWS4-HMAC-SHA256",
      "20150830T123600Z",
      "20150830/us-east-1/service/aws4_request",
      "c30d4703d9f799439be92736156d47ccfb2d879ddf56f5befa6d1d6aab979177",
    ].join("\n"),
    authorization:
      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197",
  },
  {
    name: "get-vanilla-utf8-query",
    suitePath: "get-vanilla-utf8-query",
    request: {
      method: "GET",
      target: "/?\u1234=bar",
      path: "/",
      rawQuery: "\u1234=bar",
      query: [["\u1234", "bar"]],
      headers: [
        ["Host", "example.amazonaws.com"],
        ["X-Amz-Date", "20150830T123600Z"],
      ],
      body: "",
    },
    canonicalRequest: [
      "GET",
      "/",
      "%E1%88%B4=bar",
      "host:example.amazonaws.com",
      "x-amz-date:20150830T123600Z",
      "",
      "host;x-amz-date",
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ].join("\n"),
    stringToSign: [
      "AWS4-HMAC-SHA256",
      "20150830T123600Z",
      "20150830/us-east-1/service/aws4_request",
      "eb30c5bed55734080471a834cc727ae56beb50e5f39d1bff6d0d38cb192a7073",
    ].join("\n"),
    authorization:
      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04",
  },
  {
    name: "get-unreserved",
    suitePath: "get-unreserved",
    request: {
      method: "GET",
      target: "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
      path: "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
      rawQuery: "",
      query: [],
      headers: [
        ["Host", "example.amazonaws.com"],
        ["X-Amz-Date", "20150830T123600Z"],
      ],
      body: "",
    },
    canonicalRequest: [
      "GET",
      "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
      "",
      "host:example.amazonaws.com",
      "x-amz-date:20150830T123600Z",
      "",
      "host;x-amz-date",
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ].join("\n"),
    stringToSign: [
      "AWS4-HMAC-SHA256",
      "20150830T123600Z",
      "20150830/us-east-1/service/aws4_request",
      "6a968768eefaa713e2a6b16b589a8ea192661f098f37349f4e2c0082757446f9",
    ].join("\n"),
    authorization:
      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f",
  },
  {
    name: "get-utf8",
    suitePath: "get-utf8",
    request: {
      method: "GET",
      target: "/\u1234",
      path: "/\u1234",
      rawQuery: "",
      query: [],
      headers: [
        ["Host", "example.amazonaws.com"],
        ["X-Amz-Date", "20150830T123600Z"],
      ],
      body: "",
    },
    canonicalRequest: [
      "GET",
      "/%E1%88%B4",
      "",
      "host:example.amazonaws.com",
      "x-amz-date:20150830T123600Z",
      "",
      "host;x-amz-date",
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ].join("\n"),
    stringToSign: [
      "AWS4-HMAC-SHA256",
      "20150830T123600Z",
      "20150830/us-east-1/service/aws4_request",
      "2a0a97d02205e45ce2e994789806b19270cfbbb0921b278ccf58f5249ac42102",
    ].join("\n"),
    authorization:
      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85",
  },
  {
    name: "get-space",
    suitePath: "normalize-path/get-space",
    request: {
      method: "GET",
      target: "/example space/",
      path: "/example space/",
      rawQuery: "",
      query: [],
      headers: [
        ["Host", "example.amazonaws.com"],
        ["X-Amz-Date", "20150830T123600Z"],
      ],
      body: "",
    },
    canonicalRequest: [
      "GET",
      "/example%20space/",
      "",
      "host:example.amazonaws.com",
      "x-amz-date:20150830T123600Z",
      "",
      "host;x-amz-date",
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ].join("\n"),
    stringToSign: [
      "AWS4-HMAC-SHA256",
      "20150830T123600Z",
      "20150830/us-east-1/service/aws4_request",
      "63ee75631ed7234ae61b5f736dfc7754cdccfedbff4b5128a915706ee9390d86",
    ].join("\n"),
    authorization:
      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741",
  },
  {
    name: "get-special-character",
    suitePath: "normalize-path/get-special-character",
    request: {
      method: "GET",
      target: "/example/$delete",
      path: "/example/$delete",
      rawQuery: "",
      query: [],
      headers: [
        ["Host", "example.amazonaws.com"],
        ["X-Amz-Date", "20150830T123600Z"],
      ],
      body: "",
    },
    canonicalRequest: [
      "GET",
      "/example/%24delete",
      "",
      "host:example.amazonaws.com",
      "x-amz-date:20150830T123600Z",
      "",
      "host;x-amz-date",
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ].join("\n"),
    stringToSign: [
      "AWS4-HMAC-SHA256",
      "20150830T123600Z",
      "20150830/us-east-1/service/aws4_request",
      "4053e45b5cef7cec5e17f736b1c12b3faf0388fd4c0bd24326386f132039ce5c",
    ].join("\n"),
    authorization:
      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=a853c9b21b528b19643d00910d35b83a10c366a10833ceefb45edd6c80e40f27",
  },
  {
    name: "get-slash-dot-slash",
    suitePath: "normalize-path/get-slash-dot-slash",
    request: {
      method: "GET",
      target: "/./",
      path: "/./",
      rawQuery: "",
      query: [],
      headers: [
        ["Host", "example.amazonaws.com"],
        ["X-Amz-Date", "20150830T123600Z"],
      ],
      body: "",
    },
    canonicalRequest: [
      "GET",
      "/",
      "",
      "host:example.amazonaws.com",
      "x-amz-date:20150830T123600Z",
      "",
      "host;x-amz-date",
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ].join("\n"),
    stringToSign: [
      "AWS4-HMAC-SHA256",
      "20150830T123600Z",
      "20150830/us-east-1/service/aws4_request",
      "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63",
    ].join("\n"),
    authorization:
      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
  },
  {
    name: "get-header-value-trim",
    suitePath: "get-header-value-trim",
    request: {
      method: "GET",
      target: "/",
      path: "/",
      rawQuery: "",
      query: [],
      headers: [
        ["Host", "example.amazonaws.com"],
        ["My-Header1", " value1"],
        ["My-Header2", " \"a   b   c\""],
        ["X-Amz-Date", "20150830T123600Z"],
      ],
      body: "",
    },
    canonicalRequest: [
      "GET",
      "/",
      "",
      "host:example.amazonaws.com",
      "my-header1:value1",
      "my-header2:\"a b c\"",
      "x-amz-date:20150830T123600Z",
      "",
      "host;my-header1;my-header2;x-amz-date",
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ].join("\n"),
    stringToSign: [
      "AWS4-HMAC-SHA256",
      "20150830T123600Z",
      "20150830/us-east-1/service/aws4_request",
      "a726db9b0df21c14f559d0a978e563112acb1b9e05476f0a6a1c7d68f28605c7",
    ].join("\n"),
    authorization:
      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;my-header2;x-amz-date, Signature=acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
  },
  {
    name: "get-header-key-duplicate",
    suitePath: "get-header-key-duplicate",
    request: {
      method: "GET",
      target: "/",
      path: "/",
      rawQuery: "",
      query: [],
      headers: [
        ["Host", "example.amazonaws.com"],
        ["My-Header1", "value2"],
        ["My-Header1", "value2"],
        ["My-Header1", "value1"],
        ["X-Amz-Date", "20150830T123600Z"],
      ],
      body: "",
    },
    canonicalRequest: [
      "GET",
      "/",
      "",
      "host:example.amazonaws.com",
      "my-header1:value2,value2,value1",
      "x-amz-date:20150830T123600Z",
      "",
      "host;my-header1;x-amz-date",
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ].join("\n"),
    stringToSign: [
      "AWS4-HMAC-SHA256",
      "20150830T123600Z",
      "20150830/us-east-1/service/aws4_request",
      "dc7f04a3abfde8d472b0ab1a418b741b7c67174dad1551b4117b15527fbe966c",
    ].join("\n"),
    authorization:
      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;x-amz-date, Signature=c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea",
  },
  {
    name: "post-header-key-sort",
    suitePath: "post-header-key-sort",
    request: {
      method: "POST",
      target: "/",
      path: "/",
      rawQuery: "",
      query: [],
      headers: [
        ["Host", "example.amazonaws.com"],
        ["My-Header1", "value1"],
        ["X-Amz-Date", "20150830T123600Z"],
      ],
      body: "",
    },
    canonicalRequest: [
      "POST",
      "/",
      "",
      "host:example.amazonaws.com",
      "my-header1:value1",
      "x-amz-date:20150830T123600Z",
      "",
      "host;my-header1;x-amz-date",
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ].join("\n"),
    stringToSign: [
      "AWS4-HMAC-SHA256",
      "20150830T123600Z",
      "20150830/us-east-1/service/aws4_request",
      "9368318c2967cf6de74404b30c65a91e8f6253e0a8659d6d5319f1a812f87d65",
    ].join("\n"),
    authorization:
      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;x-amz-date, Signature=c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c",
  },
  {
    name: "post-vanilla-query",
    suitePath: "post-vanilla-query",
    request: {
      method: "POST",
      target: "/?Param1=value1",
      path: "/",
      rawQuery: "Param1=value1",
      query: [["Param1", "value1"]],
      headers: [
        ["Host", "example.amazonaws.com"],
        ["X-Amz-Date", "20150830T123600Z"],
      ],
      body: "",
    },
    canonicalRequest: [
      "POST",
      "/",
      "Param1=value1",
      "host:example.amazonaws.com",
      "x-amz-date:20150830T123600Z",
      "",
      "host;x-amz-date",
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ].join("\n"),
    stringToSign: [
      "AWS4-HMAC-SHA256",
      "20150830T123600Z",
      "20150830/us-east-1/service/aws4_request",
      "9d659678c1756bb3113e2ce898845a0a79dbbc57b740555917687f1b3340fbbd",
    ].join("\n"),
    authorization:
      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11",
  },
  {
    name: "post-x-www-form-urlencoded",
    suitePath: "post-x-www-form-urlencoded",
    request: {
      method: "POST",
      target: "/",
      path: "/",
      rawQuery: "",
      query: [],
      headers: [
        ["Content-Type", "application/x-www-form-urlencoded"],
        ["Host", "example.amazonaws.com"],
        ["X-Amz-Date", "20150830T123600Z"],
      ],
      body: "Param1=value1",
    },
    canonicalRequest: [
      "POST",
      "/",
      "",
      "content-type:application/x-www-form-urlencoded",
      "host:example.amazonaws.com",
      "x-amz-date:20150830T123600Z",
      "",
      "content-type;host;x-amz-date",
      "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
    ].join("\n"),
    stringToSign: [
      "AWS4-HMAC-SHA256",
      "20150830T123600Z",
      "20150830/us-east-1/service/aws4_request",
      "42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281",
    ].join("\n"),
    authorization:
      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
  },
  {
    name: "post-x-www-form-urlencoded-parameters",
    suitePath: "post-x-www-form-urlencoded-parameters",
    request: {
      method: "POST",
      target: "/",
      path: "/",
      rawQuery: "",
      query: [],
      headers: [
        ["Content-Type", "application/x-www-form-urlencoded; charset=utf8"],
        ["Host", "example.amazonaws.com"],
        ["X-Amz-Date", "20150830T123600Z"],
      ],
      body: "Param1=value1",
    },
    canonicalRequest: [
      "POST",
      "/",
      "",
      "content-type:application/x-www-form-urlencoded; charset=utf8",
      "host:example.amazonaws.com",
      "x-amz-date:20150830T123600Z",
      "",
      "content-type;host;x-amz-date",
      "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
    ].join("\n"),
    stringToSign: [
      "AWS4-HMAC-SHA256",
      "20150830T123600Z",
      "20150830/us-east-1/service/aws4_request",
      "2e1cf7ed91881a30569e46552437e4156c823447bf1781b921b5d486c568dd1c",
    ].join("\n"),
    authorization:
      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe",
  },
  {
    name: "post-sts-header-before",
    suitePath: "post-sts-token/post-sts-header-before",
    request: {
      method: "POST",
      target: "/",
      path: "/",
      rawQuery: "",
      query: [],
      headers: [
        ["Host", "example.amazonaws.com"],
        ["X-Amz-Date", "20150830T123600Z"],
        ["X-Amz-Security-Token", "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA=="],
      ],
      body: "",
    },
    canonicalRequest: [
      "POST",
      "/",
      "",
      "host:example.amazonaws.com",
      "x-amz-date:20150830T123600Z",
      "x-amz-security-token:AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==",
      "",
      "host;x-amz-date;x-amz-security-token",
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ].join("\n"),
    stringToSign: [
      "AWS4-HMAC-SHA256",
      "20150830T123600Z",
      "20150830/us-east-1/service/aws4_request",
      "c237e1b440d4c63c32ca95b5b99481081cb7b13c7e40434868e71567c1a882f6",
    ].join("\n"),
    authorization:
      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date;x-amz-security-token, Signature=85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead",
  },
  {
    name: "post-sts-header-after",
    suitePath: "post-sts-token/post-sts-header-after",
    request: {
      method: "POST",
      target: "/",
      path: "/",
      rawQuery: "",
      query: [],
      headers: [
        ["Host", "example.amazonaws.com"],
        ["X-Amz-Date", "20150830T123600Z"],
      ],
      body: "",
    },
    headersAddedAfterSigning: [["X-Amz-Security-Token", "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA=="]],
    canonicalRequest: [
      "POST",
      "/",
      "",
      "host:example.amazonaws.com",
      "x-amz-date:20150830T123600Z",
      "",
      "host;x-amz-date",
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ].join("\n"),
    stringToSign: [
      "AWS4-HMAC-SHA256",
      "20150830T123600Z",
      "20150830/us-east-1/service/aws4_request",
      "553f88c9e4d10fc9e109e2aeb65f030801b70c2f6468faca261d401ae622fc87",
    ].join("\n"),
    authorization:
      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
  },
  {
    name: "get-vanilla-with-session-token",
    suitePath: "get-vanilla-with-session-token",
    request: {
      method: "GET",
      target: "/",
      path: "/",
      rawQuery: "",
      query: [],
      headers: [
        ["Host", "example.amazonaws.com"],
        ["X-Amz-Date", "20150830T123600Z"],
      ],
      body: "",
    },
    sessionToken: "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267",
    canonicalRequest: [
      "GET",
      "/",
      "",
      "host:example.amazonaws.com",
      "x-amz-date:20150830T123600Z",
      "x-amz-security-token:6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267",
      "",
      "host;x-amz-date;x-amz-security-token",
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ].join("\n"),
    stringToSign: [
      "AWS4-HMAC-SHA256",
      "20150830T123600Z",
      "20150830/us-east-1/service/aws4_request",
      "067b36aa60031588cea4a4cde1f21215227a047690c72247f1d70b32fbbfad2b",
    ].join("\n"),
    authorization:
      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date;x-amz-security-token, Signature=07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8",
  },
];
