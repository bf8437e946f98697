// Unit tests of the s3:// backend that need no server: SigV4 against the AWS
// documentation's examples, error-body parsing, URIs, keys, options from the environment.
// The tests against a real S3 server are tests/s3_test.cpp.
#include "storage/s3_store.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "storage/s3_signer.h"
#include "storage/env_testing.h"

namespace synthfarm::storage {
namespace {

// "Examples of signature calculations" in the S3 API reference (AWS Signature Version 4).
const sigv4::Credentials kExampleCredentials{"AKIAIOSFODNN7EXAMPLE",
                                             "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""};
constexpr char kExampleDate[] = "20130524T000000Z";
constexpr char kEmptySha256[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

std::string signature_of(const std::string& authorization) {
  return authorization.substr(authorization.find("Signature=") + 10);
}

TEST(SigV4Test, GetObjectExample) {
  sigv4::Request request;
  request.method = "GET";
  request.canonical_path = "/test.txt";
  request.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
                     {"Range", "bytes=0-9"},
                     {"x-amz-content-sha256", kEmptySha256},
                     {"x-amz-date", kExampleDate}};
  request.payload_sha256 = kEmptySha256;
  EXPECT_EQ(
      sigv4::canonical_request(request),
      "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
      "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
      "x-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n"
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(
      sigv4::string_to_sign(kExampleDate, "us-east-1", "s3", sigv4::canonical_request(request)),
      "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
      "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
  EXPECT_EQ(sigv4::authorization(request, kExampleCredentials, "us-east-1", "s3", kExampleDate),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(SigV4Test, PutObjectExample) {
  const std::string payload = "Welcome to Amazon S3.";
  EXPECT_EQ(sigv4::sha256_hex(payload),
            "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  sigv4::Request request;
  request.method = "PUT";
  request.canonical_path = sigv4::uri_encode_path("/test$file.text");
  EXPECT_EQ(request.canonical_path, "/test%24file.text");
  request.payload_sha256 = sigv4::sha256_hex(payload);
  request.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
                     {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                     {"x-amz-date", kExampleDate},
                     {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
                     {"x-amz-content-sha256", request.payload_sha256}};
  EXPECT_EQ(signature_of(sigv4::authorization(request, kExampleCredentials, "us-east-1", "s3",
                                              kExampleDate)),
            "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

TEST(SigV4Test, GetBucketLifecycleAndListObjectsExamples) {
  sigv4::Request request;
  request.method = "GET";
  request.canonical_path = "/";
  request.payload_sha256 = kEmptySha256;
  request.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
                     {"x-amz-date", kExampleDate},
                     {"x-amz-content-sha256", kEmptySha256}};
  request.query = {{"lifecycle", ""}};
  EXPECT_EQ(signature_of(sigv4::authorization(request, kExampleCredentials, "us-east-1", "s3",
                                              kExampleDate)),
            "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
  request.query = {{"prefix", "J"}, {"max-keys", "2"}};  // sorted when signing
  EXPECT_EQ(signature_of(sigv4::authorization(request, kExampleCredentials, "us-east-1", "s3",
                                              kExampleDate)),
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

TEST(SigV4Test, EncodingAndDigests) {
  EXPECT_EQ(sigv4::uri_encode("a b+c/d~e_f.g-h%"), "a%20b%2Bc%2Fd~e_f.g-h%25");
  EXPECT_EQ(sigv4::uri_encode_path("/b/samples/0 1.exr"), "/b/samples/0%201.exr");
  EXPECT_EQ(sigv4::canonical_query({{"uploadId", "x y"}, {"partNumber", "2"}}),
            "partNumber=2&uploadId=x%20y");
  EXPECT_EQ(sigv4::md5_hex(""), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(sigv4::md5_base64("hello"), "XUFAKrxLKna5cZ2REBfFkg==");
  EXPECT_EQ(sigv4::sha256_base64(""), "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
}

TEST(S3ErrorTest, ParsesCodeAndMessage) {
  auto error = parse_s3_error(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchBucket</Code>"
      "<Message>The specified bucket does not exist &amp; never did</Message>"
      "<BucketName>nope</BucketName><RequestId>4442587FB7D0A2F9</RequestId></Error>");
  ASSERT_TRUE(error);
  EXPECT_EQ(error->code, "NoSuchBucket");
  EXPECT_EQ(error->message, "The specified bucket does not exist & never did");
  EXPECT_FALSE(parse_s3_error(""));
  EXPECT_FALSE(parse_s3_error("garbage <Code>x</Code>"));
  EXPECT_FALSE(parse_s3_error("<ListBucketResult></ListBucketResult>"));
  auto no_message = parse_s3_error("<Error><Code>AccessDenied</Code></Error>");
  ASSERT_TRUE(no_message);
  EXPECT_EQ(no_message->message, "");
}

TEST(S3ListPageTest, ObjectsUnderTheRootAndTheContinuation) {
  const std::string xml =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult><Name>b</Name>"
      "<Contents><Key>run/a.json</Key><Size>12</Size></Contents>"
      "<Contents><Key>other/b.json</Key><Size>3</Size></Contents>"
      "<Contents><Key>run/../escape</Key><Size>1</Size></Contents>"
      "<Contents><Key>run/c&amp;d.png</Key><Size>7</Size></Contents>"
      "<Contents><Key>run/no-size</Key></Contents>"
      "<IsTruncated>true</IsTruncated><NextContinuationToken>t2</NextContinuationToken>"
      "</ListBucketResult>";
  auto page = parse_s3_list_page(xml, "run/");
  ASSERT_TRUE(page);
  ASSERT_EQ(page->objects.size(), 2u);
  EXPECT_EQ(page->objects[0].key, "a.json");
  EXPECT_EQ(page->objects[0].size, 12u);
  EXPECT_EQ(page->objects[1].key, "c&d.png");
  EXPECT_TRUE(page->truncated);
  EXPECT_EQ(page->next_token, "t2");
  auto last = parse_s3_list_page("<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>", "");
  ASSERT_TRUE(last);
  EXPECT_TRUE(last->objects.empty());
  EXPECT_FALSE(last->truncated);
  EXPECT_FALSE(last->next_token);
  EXPECT_FALSE(parse_s3_list_page("<Error><Code>AccessDenied</Code></Error>", ""));
}

TEST(S3UriTest, BucketAndPrefix) {
  auto location = parse_s3_uri("s3://datasets/people/v1/");
  ASSERT_TRUE(location) << location.error().message;
  EXPECT_EQ(location->bucket, "datasets");
  EXPECT_EQ(location->prefix, "people/v1");
  auto bare = parse_s3_uri("s3://datasets");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->prefix, "");
  for (const char* bad : {"s3://", "s3://ab", "s3://Upper/x", "s3://b_u/x", "s3://datasets/../x",
                          "s3://datasets/a//b", "s3://datasets/%2e%2e/x", "file:///x"}) {
    auto parsed = parse_s3_uri(bad);
    EXPECT_FALSE(parsed) << bad;
    if (!parsed) {
      EXPECT_EQ(parsed.error().code, Error::Code::kInvalidUri) << bad;
      EXPECT_NE(parsed.error().message.find(bad), std::string::npos) << parsed.error().message;
    }
  }
}

// Keys that would leave the store's prefix, in plain and percent-encoded forms: S3 takes
// keys literally, but a proxy or a reader that decodes them must not see an escape either.
TEST(S3KeyTest, EscapingKeysRefused) {
  for (const char* bad : {"../x", "a/../../x", "/abs", "a//b", "./x", "%2e%2e/x", "%2E%2E/x",
                          "a/%2e%2e/b", "..%2fx", "%2e%2e%2fx", "a%2Fb", "%2e/x", "a\\..\\b"}) {
    auto valid = validate_key(bad);
    EXPECT_FALSE(valid) << bad;
    if (!valid) {
      EXPECT_EQ(valid.error().code, Error::Code::kInvalidKey) << bad;
    }
  }
  for (const char* good : {"samples/00000001.exr", "a%20b", "100%", "x%2", "..a", "a..", "a.b/c"}) {
    EXPECT_TRUE(validate_key(good)) << good;
  }
}

using storage::testing::ScopedEnv;

TEST(S3OptionsTest, EnvironmentAndProfiles) {
  const auto dir = std::filesystem::temp_directory_path() / ("s3opts-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "credentials")
      << "[default]\naws_access_key_id = DEFKEY\naws_secret_access_key = DEFSECRET\n"
         "[ci]\naws_access_key_id=CIKEY\naws_secret_access_key=CISECRET\n"
         "aws_session_token = CITOKEN\n";
  std::ofstream(dir / "config")
      << "[default]\nregion = eu-west-1\n[profile ci]\nregion = ap-south-1\n";
  std::map<std::string, std::string> base = {
      {"AWS_ACCESS_KEY_ID", ""},
      {"AWS_SECRET_ACCESS_KEY", ""},
      {"AWS_SESSION_TOKEN", ""},
      {"AWS_REGION", ""},
      {"AWS_DEFAULT_REGION", ""},
      {"AWS_PROFILE", ""},
      {"AWS_ENDPOINT_URL", ""},
      {"AWS_ENDPOINT_URL_S3", ""},
      {"AWS_SHARED_CREDENTIALS_FILE", (dir / "credentials").string()},
      {"AWS_CONFIG_FILE", (dir / "config").string()}};
  {
    ScopedEnv env(base);
    auto options = s3_options_from_environment();
    ASSERT_TRUE(options) << options.error().message;
    EXPECT_EQ(options->credentials.access_key_id, "DEFKEY");
    EXPECT_EQ(options->region, "eu-west-1");
    EXPECT_EQ(options->endpoint, "");
  }
  {
    auto vars = base;
    vars["AWS_PROFILE"] = "ci";
    vars["AWS_ENDPOINT_URL"] = "http://127.0.0.1:9000";
    vars["SYNTHFARM_S3_PART_SIZE"] = "5242880";
    ScopedEnv env(vars);
    auto options = s3_options_from_environment();
    ASSERT_TRUE(options) << options.error().message;
    EXPECT_EQ(options->credentials.access_key_id, "CIKEY");
    EXPECT_EQ(options->credentials.session_token, "CITOKEN");
    EXPECT_EQ(options->region, "ap-south-1");
    EXPECT_EQ(options->endpoint, "http://127.0.0.1:9000");
    EXPECT_EQ(options->part_size, 5242880u);
  }
  {
    auto vars = base;
    vars["AWS_ACCESS_KEY_ID"] = "ENVKEY";
    vars["AWS_SECRET_ACCESS_KEY"] = "ENVSECRET";
    vars["AWS_REGION"] = "us-west-2";
    ScopedEnv env(vars);
    auto options = s3_options_from_environment();
    ASSERT_TRUE(options);
    EXPECT_EQ(options->credentials.access_key_id, "ENVKEY");
    EXPECT_EQ(options->region, "us-west-2");
  }
  {
    auto vars = base;
    vars["AWS_PROFILE"] = "missing";
    ScopedEnv env(vars);
    auto options = s3_options_from_environment();
    ASSERT_FALSE(options);
    EXPECT_NE(options.error().message.find("missing"), std::string::npos);
  }
  {
    auto vars = base;
    vars["SYNTHFARM_S3_MULTIPART_THRESHOLD"] = "lots";
    ScopedEnv env(vars);
    auto options = s3_options_from_environment();
    ASSERT_FALSE(options);
    EXPECT_NE(options.error().message.find("SYNTHFARM_S3_MULTIPART_THRESHOLD"), std::string::npos);
  }
  std::filesystem::remove_all(dir);
}

TEST(S3StoreTest, OpenRefusesBadEndpointsAndMissingCredentials) {
  S3Options options;
  options.check_bucket = false;
  auto no_credentials = S3Store::open("s3://bucket/x", options);
  ASSERT_FALSE(no_credentials);
  EXPECT_NE(no_credentials.error().message.find("s3://bucket/x"), std::string::npos);
  EXPECT_NE(no_credentials.error().message.find("credentials"), std::string::npos);
  options.credentials = {"K", "S", ""};
  options.endpoint = "127.0.0.1:9000";
  EXPECT_FALSE(S3Store::open("s3://bucket/x", options));
  options.endpoint = "ftp://127.0.0.1:9000";
  EXPECT_FALSE(S3Store::open("s3://bucket/x", options));
  options.endpoint = "http://127.0.0.1:9000";
  auto store = S3Store::open("s3://bucket/x/", options);
  ASSERT_TRUE(store) << store.error().message;
  EXPECT_EQ((*store)->uri(), "s3://bucket/x");
  // Keys are checked before any request is made.
  auto put = (*store)->put("%2e%2e/escape", "x");
  ASSERT_FALSE(put);
  EXPECT_EQ(put.error().code, Error::Code::kInvalidKey);
  EXPECT_FALSE((*store)->get("../x"));
  EXPECT_FALSE((*store)->list("../"));
}

TEST(S3StoreTest, CanonicalUriLeavesS3Unchanged) {
  auto canonical = canonical_uri("s3://bucket/some/prefix");
  ASSERT_TRUE(canonical);
  EXPECT_EQ(*canonical, "s3://bucket/some/prefix");
}

}  // namespace
}  // namespace synthfarm::storage
